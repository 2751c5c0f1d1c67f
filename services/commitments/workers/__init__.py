"""The commitments service's processes besides the API, each started by its command: the outbox relay
(`relay.py`, `python -m services.commitments relay`) and the deadline scanner (`scanner.py`, `scan`).

Each module imports what its own process needs, and no more: the relay starts without the domain packages,
the web framework or the working-day calendar.
"""

from __future__ import annotations

import asyncio
import signal


def stop_on_signals() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT (in the running loop), for the worker to finish its turn and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
