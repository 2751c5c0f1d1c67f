"""Scenario `cli_startup`: how much CPU a command line spends before it is useful, beside the bare
interpreter.

    python -m bench cli_startup [--startup-runs N]

- `python -m services.commitments --help` and `python -m services.notifications --help`, beside
  `python -c pass`;
- `python -m services.commitments relay` started on a SQLite outbox holding 20 unpublished events (poll 60 s,
  so only its start can publish them): the wall time from the process start to the first event seen on the
  stream's subjects and the relay's CPU at that moment, beside `python -c "import <what a relay cannot start
  without>"`.

Prints the medians of N runs (7), the ratio to each baseline and the verdict against the target (under 1 s of
CPU). Needs NATS with JetStream at BENCH_NATS_URL (default nats://127.0.0.1:4222); the stream is deleted at
the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime

from bench.machinery.servers import NATS_URL, ROOT, cpu_seconds_to_exit, process_cpu_seconds

describe = "CPU of `--help` and of a relay's start to its first publish, beside the bare interpreter"

TARGET_CPU_SECONDS = 1.0
WAITING_EVENTS = 20
# What the relay cannot start without: its ORM row, the async engine and driver, its settings, the NATS
# client.
RELAY_FLOOR = "import sqlalchemy.orm, sqlalchemy.ext.asyncio, aiosqlite, pydantic_settings, nats"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cli_startup")
    group.add_argument("--startup-runs", type=int, default=7, help="runs of each command (7)")


async def _relay_start(database_url: str) -> tuple[float, float]:
    """Seconds from starting a relay to the first event it publishes, and its CPU at that moment."""
    import nats

    from services.commitments.outbox.models import OutboxMessage
    from shared.db import create_engine, create_sessionmaker

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            session.add_all(
                OutboxMessage(
                    event_id=uuid.uuid4(),
                    event_type="bench.waiting",
                    payload="{}",
                    headers={},
                    created_at=datetime.now(UTC),
                )
                for _ in range(WAITING_EVENTS)
            )
    finally:
        await engine.dispose()
    suffix = uuid.uuid4().hex[:8]
    stream, prefix = f"BENCH_RELAY_{suffix}", f"bench-relay-{suffix}"
    client = await nats.connect(NATS_URL, connect_timeout=2)
    first: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def seen(_message: object) -> None:
        if not first.done():
            first.set_result(time.monotonic())

    await client.subscribe(f"{prefix}.>", cb=seen)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "NATS_URL": NATS_URL,
        "EVENTS_STREAM": stream,
        "EVENTS_SUBJECT_PREFIX": prefix,
        "RELAY_POLL_SECONDS": "60",
        "PYTHONPATH": str(ROOT),
    }
    started = time.monotonic()
    relay = subprocess.Popen(
        [sys.executable, "-m", "services.commitments", "relay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        published = await asyncio.wait_for(first, 60)
        return published - started, process_cpu_seconds(relay.pid)
    finally:
        relay.terminate()
        relay.wait(10)
        await client.jetstream().delete_stream(stream)
        await client.close()


def _line(name: str, values: list[float], baseline: float | None = None) -> str:
    median = statistics.median(values)
    ratio = f"   ×{median / baseline:.1f} the baseline" if baseline else ""
    return f"  {name:58} median {median:6.3f} s   (min {min(values):.3f}, max {max(values):.3f}){ratio}"


def run(args: argparse.Namespace) -> int:
    import logging

    from services.commitments.migrate import upgrade_database

    logging.basicConfig(level=logging.WARNING)  # not one Alembic line per migration and per run

    runs = args.startup_runs
    python = sys.executable
    print(f"CPU (user + system) to exit, {runs} runs each:")
    bare = [cpu_seconds_to_exit([python, "-c", "pass"]) for _ in range(runs)]
    print(_line("python -c pass (baseline)", bare))
    worst = 0.0
    for package in ("services.commitments", "services.notifications"):
        help_cpu = [cpu_seconds_to_exit([python, "-m", package, "--help"]) for _ in range(runs)]
        print(_line(f"python -m {package} --help", help_cpu, statistics.median(bare)))
        worst = max(worst, statistics.median(help_cpu))
    floor = [cpu_seconds_to_exit([python, "-c", RELAY_FLOOR]) for _ in range(runs)]
    print(f"\nRelay started with {WAITING_EVENTS} events waiting (SQLite, poll 60 s), {runs} runs:")
    print(_line("python -c 'import <what the relay needs>' (baseline)", floor))
    walls, cpus = [], []
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as folder:
        for number in range(runs):
            url = f"sqlite:///{folder}/relay-{number}.db"
            upgrade_database(url)
            wall, cpu = asyncio.run(_relay_start(url))
            walls.append(wall)
            cpus.append(cpu)
    print(_line("relay: process start → first event published (wall)", walls))
    print(_line("relay: its CPU at the first event", cpus, statistics.median(floor)))
    worst = max(worst, statistics.median(cpus))
    verdict = "met" if worst < TARGET_CPU_SECONDS else "MISSED"
    print(f"\nverdict: target under {TARGET_CPU_SECONDS:.0f} s of CPU {verdict} (worst median {worst:.3f} s)")
    return 0
