"""What every worker process (relays, scanner, consumers, projector) does around its work: stop on SIGTERM or
SIGINT, and connect to NATS unless asked to stop first."""

from __future__ import annotations

import asyncio
import signal

from nats.aio.client import Client as NatsClient

from shared.bus import connect


def stop_on_signals() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT (in the running loop), for the worker to finish its turn and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def connect_unless_stopped(
    stop: asyncio.Event, url: str, name: str, **options: object
) -> NatsClient | None:
    """Connect to NATS (connect() retries while NATS is away), or None when `stop` is set first."""
    connecting = asyncio.ensure_future(connect(url, name=name, **options))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([connecting, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not connecting.done():
        connecting.cancel()
        return None
    return connecting.result()
