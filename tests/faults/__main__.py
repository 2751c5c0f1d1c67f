"""The full multi-node fault run (`make faults`): at least 10,000 events and every kill, then the fault
table in Markdown on standard output.

    python -m tests.faults [--events N] [--clients N] [--keep-logs DIR]

PostgreSQL comes from TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test), as in the test
suite; the run creates its own databases there and drops them at the end."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.faults.scenario import FULL, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.faults",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--events", type=int, default=FULL.events, help="events to reach (default %(default)s)"
    )
    parser.add_argument("--clients", type=int, default=FULL.clients, help="concurrent HTTP clients of load")
    parser.add_argument("--keep-logs", type=Path, help="copy the processes' logs here if the run fails")
    args = parser.parse_args(argv)
    size = dataclasses.replace(FULL, events=args.events, clients=args.clients)
    admin_url = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

    def keep(work: Path) -> None:
        if args.keep_logs is not None:
            shutil.copytree(
                work, args.keep_logs, dirs_exist_ok=True, ignore=shutil.ignore_patterns("nats-n*")
            )
            print(f"logs of the failed run copied to {args.keep_logs}", file=sys.stderr)

    started = datetime.now(UTC)
    report = asyncio.run(run(admin_url, size, keep_logs=keep))
    print(
        f"Fault run of {started:%Y-%m-%d %H:%M} UTC ({size.events} events asked, {size.clients} clients):\n"
    )
    print(report.table())
    return (
        0
        if report.figures["lost"] == 0
        and report.figures["mails_duplicated"] <= report.duplicate_bound
        and report.figures["reporting_differences"] == 0
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
