"""The relay or the scanner process with a pause injected where a crash test kills it (test-only: the
service's command line has no such switch):

    python -m tests.services.commitments.workers.faults PAUSE relay
        the real relay (`python -m services.commitments relay`); after publishing each batch it prints
        {"relay": "published-unmarked", "count": N} and waits PAUSE seconds before marking the batch published

    python -m tests.services.commitments.workers.faults PAUSE relay-before-publish
        the real relay; once it has read (claimed) each batch and before publishing any of it, it prints
        {"relay": "read-unpublished", "count": N} and waits PAUSE seconds

    python -m tests.services.commitments.workers.faults PAUSE scan [--once] [--as-of INSTANT]
        the real scanner (`python -m services.commitments scan`); inside each batch's transaction, before
        writing its firings, it prints {"scanner": "paused-in-batch", "firings": N} and waits PAUSE seconds

Everything else is the service's own: its command line (services/commitments/cli.py) parses the command and
its options and reads the settings from the environment, and the worker (services/commitments/workers/) runs
with the pause as its hook (`before_mark`, `before_publish`, `in_batch`).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
from typing import TYPE_CHECKING

from services.commitments import cli

if TYPE_CHECKING:
    from services.commitments.config import CommitmentsSettings, ScannerSettings


async def relay_pausing_before_mark(
    pause: float, settings: CommitmentsSettings, _args: argparse.Namespace
) -> None:
    from services.commitments.workers.relay import run_relay

    async def before_mark(count: int) -> None:
        print(json.dumps({"relay": "published-unmarked", "count": count}), flush=True)
        await asyncio.sleep(pause)

    await run_relay(settings, before_mark=before_mark)


async def relay_pausing_before_publish(
    pause: float, settings: CommitmentsSettings, _args: argparse.Namespace
) -> None:
    from services.commitments.workers.relay import run_relay

    async def before_publish(count: int) -> None:
        print(json.dumps({"relay": "read-unpublished", "count": count}), flush=True)
        await asyncio.sleep(pause)

    await run_relay(settings, before_publish=before_publish)


async def scanner_pausing_in_batch(pause: float, settings: ScannerSettings, args: argparse.Namespace) -> None:
    from services.commitments.workers.scanner import run_scanner

    async def in_batch(firings: int) -> None:
        print(json.dumps({"scanner": "paused-in-batch", "firings": firings}), flush=True)
        await asyncio.sleep(pause)

    await run_scanner(settings, once=args.once, as_of=args.as_of, in_batch=in_batch)


# The hooked command → (the service's command it runs, the pausing handler).
PAUSING = {
    "relay": ("relay", relay_pausing_before_mark),
    "relay-before-publish": ("relay", relay_pausing_before_publish),
    "scan": ("scan", scanner_pausing_in_batch),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.services.commitments.workers.faults",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("pause", type=float, help="seconds to wait at the hook")
    parser.add_argument("command", choices=sorted(PAUSING))
    parser.add_argument("options", nargs=argparse.REMAINDER, help="the command's own options")
    faults = parser.parse_args(argv)
    command, handler = PAUSING[faults.command]
    args = cli.parse_args([command, *faults.options])
    args.handler = functools.partial(handler, faults.pause)
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
