"""Scenario `notifications_throughput`: deadline reminder events to emails through the notifications worker
(JetStream consumer → deliveries table → render → SMTP), beside a bare aiosmtplib loop sending the same
messages over the same number of SMTP connections, in the same run.

    python -m bench notifications_throughput [--events N] [--connections C] [--sink process|thread]
        [--commitments process|thread] [--mail-rounds R]

One run: SQLite files in a temporary folder for both services; the commitments service in a process of its
own, as deployed (`python -m services.commitments serve`; seeded with one partner, its liaison and an item
with a deadline), so that its answers and its outbox relay do not run on the worker's event loop (a
`--commitments thread` run serves it under uvicorn in this process instead); a local aiosmtpd sink
(bench/smtp_sink.py: counts and keeps each message's envelope and bytes) in a process of its own, as the
embedded run deploys it (`--sink process`, the default), or in a thread of this process (`--sink thread`); a
stream of its own on the NATS server at BENCH_NATS_URL. Then R paired rounds: N `deadline.due` events are
published, the worker runs from its start until the sink holds N more mails, and right after, the baseline
sends the very messages the sink received from it in that round (same bytes, same envelopes) through the same
sink with C aiosmtplib connections, each sending its share one after the other. Each round gives a ratio of
the two throughputs; the verdict is on the median round (target ≥ 0.7), so that the machine's drift, which
moves both sides of a round together, cancels out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiosmtplib
import httpx
import nats

describe = "deadline events → emails through the notifications worker vs a bare aiosmtplib loop (same messages)"

TARGET_RATIO = 0.7
ROOT = Path(__file__).resolve().parents[1]
NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("notifications_throughput")
    group.add_argument("--events", type=int, default=2000, help="reminder events, one mail each (default 2000)")
    group.add_argument("--connections", type=int, default=4, help="SMTP connections on both sides (default 4)")
    group.add_argument("--sink", choices=("process", "thread"), default="process",
                       help="where the aiosmtpd sink runs: its own process (default, as deployed) or a thread "
                            "of the bench process")
    group.add_argument("--commitments", choices=("process", "thread"), default="process",
                       help="where the commitments service runs: its own process (default, as deployed) or "
                            "this process's event loop")
    group.add_argument("--mail-rounds", type=int, default=3,
                       help="paired rounds, worker then bare loop on the same mails (default 3; median ratio)")


async def _baseline(mails: list[tuple[str, list[str], bytes]], host: str, port: int, connections: int) -> float:
    """Seconds for a bare aiosmtplib loop to send `mails` over `connections` kept-open connections."""
    shares = [mails[index::connections] for index in range(connections)]

    async def send_share(share: list[tuple[str, list[str], bytes]]) -> None:
        client = aiosmtplib.SMTP(hostname=host, port=port)
        await client.connect()
        for sender, recipients, content in share:
            await client.sendmail(sender, recipients, content)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(send_share(share) for share in shares))
    return time.perf_counter() - started


@contextlib.asynccontextmanager
async def _commitments_process(database_url: str, stream: Any, folder: Path) -> AsyncIterator[Any]:
    """The commitments service under `python -m services.commitments serve`, with an admin and a service key
    made in its database first; yields what the tests' serve_commitments yields (seed_world writes the plan
    through a sessionmaker of this process on the same database)."""
    from services.commitments.auth.service import create_key
    from services.commitments.database import outbox_aware_sessionmaker
    from shared.auth import SYSTEM, Role
    from shared.clock import FixedClock
    from shared.db import create_engine
    from tests.services.notifications.support import Commitments, free_port

    engine = create_engine(database_url)
    sessionmaker = outbox_aware_sessionmaker(engine, lambda: None)  # nothing this side writes is published
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday, as in the tests
    async with sessionmaker() as session, session.begin():
        _, admin = await create_key(session, SYSTEM, clock, name="admin", role=Role.ADMIN, partner_id=None)
        _, service = await create_key(session, SYSTEM, clock, name="notifications", role=Role.SERVICE,
                                      partner_id=None)
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url, "NATS_URL": NATS_URL, "EVENTS_STREAM": stream.name,
                   "EVENTS_SUBJECT_PREFIX": stream.subject_prefix, "DATA_DIR": str(folder), "LOG_JSON": "false",
                   "LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.commitments", "serve", "--host",
                                                   "127.0.0.1", "--port", str(port), env=environment, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                if process.returncode is not None:
                    raise RuntimeError(f"the commitments service exited with {process.returncode}")
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the commitments service did not answer within 30 s")
        app = SimpleNamespace(state=SimpleNamespace(sessionmaker=sessionmaker))  # what seed_world uses of it
        yield Commitments(url, app, clock, admin, service, stream)  # type: ignore[arg-type]
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
        await engine.dispose()


@dataclass
class Side:
    """One side of a round: wall seconds for the round's mails, CPU seconds of this process and of the sink."""

    seconds: float
    cpu: float
    sink_cpu: float


async def _measure(args: argparse.Namespace) -> int:
    from bench.smtp_sink import ProcessSink, ThreadSink
    from services.commitments.migrate import upgrade_database as upgrade_commitments
    from services.notifications.config import NotificationsSettings
    from services.notifications.consumer import worker
    from services.notifications.migrate import upgrade_database as upgrade_notifications
    from shared.bus import StreamSpec, ensure_stream
    from shared.clock import SystemClock

    # The tests' helpers: the commitments service under uvicorn, a seeded partner and item, events.
    from tests.services.notifications.support import (
        publish,
        reminder_event,
        seed_world,
        send_items,
        serve_commitments,
    )

    folder = Path(tempfile.mkdtemp(prefix="bench-notifications-"))
    commitments_url = f"sqlite:///{folder / 'commitments.db'}"
    notifications_url = f"sqlite:///{folder / 'notifications.db'}"
    upgrade_commitments(commitments_url)
    upgrade_notifications(notifications_url)
    suffix = uuid.uuid4().hex[:8]
    stream = StreamSpec(f"BENCH_NOTIF_{suffix}", f"bench{suffix}.commitments")
    client = await nats.connect(NATS_URL, connect_timeout=2)
    js = client.jetstream()
    rounds: list[tuple[Side, Side]] = []
    mail_size = 0.0
    try:
        async with ProcessSink() if args.sink == "process" else ThreadSink() as sink:
            serving = (_commitments_process(commitments_url, stream, folder) if args.commitments == "process"
                       else serve_commitments(commitments_url, NATS_URL, stream, folder))
            async with serving as commitments:
                world = await seed_world(commitments)
                await send_items(commitments, world, "item")  # a draft takes no reminder: the sender cancels those
                await ensure_stream(js, stream)
                settings = NotificationsSettings(
                    notifications_database_url=notifications_url, nats_url=NATS_URL, events_stream=stream.name,
                    events_subject_prefix=stream.subject_prefix, commitments_url=commitments.url,
                    commitments_api_key=commitments.service_secret, smtp_host=sink.hostname,
                    smtp_port=sink.port, smtp_connections=args.connections, consumer_durable="bench",
                    action_link_secret="bench-secret", log_json=False)
                for round_number in range(args.mail_rounds):
                    for number in range(args.events):
                        await publish(js, stream, reminder_event(world, "due", step=f"due-{round_number}-{number}",
                                                                 audience=("liaison",)))
                    before, before_bytes, sink_cpu_before = await sink.stats()
                    stop = asyncio.Event()
                    # A worker per round, built before the clock starts (templates compiled, holiday tables
                    # loaded: a start-up cost paid once); the durable consumer carries on where the last one stopped.
                    async with worker(settings, SystemClock()) as running:
                        cpu_before, started = time.process_time(), time.perf_counter()
                        task = asyncio.create_task(running.run(stop))
                        try:  # a generous bound (runs take seconds), so that a worker sending nothing fails the run
                            await asyncio.wait_for(sink.wait_for(before + args.events),
                                                   timeout=60 + args.events * 0.05)
                        except TimeoutError:
                            print(f"the sink holds {(await sink.stats())[0] - before} of the round's {args.events} "
                                  "mails: the worker stalled")
                            stop.set()
                            await task
                            return 2
                        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_before
                        received, received_bytes, sink_cpu_after = await sink.stats()
                        stop.set()
                        await task
                    service = Side(seconds, cpu, sink_cpu_after - sink_cpu_before)
                    mails = (await sink.mails())[before:]
                    baseline = await _baseline_side(mails, sink, args.connections)
                    total, total_bytes, _ = await sink.stats()
                    # Payload check: the baseline delivered exactly the worker's messages of the round, byte for byte.
                    round_bytes = received_bytes - before_bytes
                    if (received - before != args.events or len(mails) != args.events
                            or total - received != args.events or total_bytes - received_bytes != round_bytes):
                        print(f"payload check failed in round {round_number + 1}: worker {received - before} mails / "
                              f"{round_bytes} B, then the baseline {total - received} / {total_bytes - received_bytes} B")
                        return 2
                    mail_size = round_bytes / args.events
                    rounds.append((service, baseline))
                    _print_round(round_number + 1, args.events, service, baseline, args.sink == "process")
    finally:
        with contextlib.suppress(Exception):  # not created when the run failed before publishing
            await js.delete_stream(stream.name)
        await client.close()
        shutil.rmtree(folder, ignore_errors=True)
    ratios = sorted(baseline.seconds / service.seconds for service, baseline in rounds)
    ratio = statistics.median(ratios)
    where = "its own process" if args.sink == "process" else "a thread of the bench process"
    service_where = "its own process" if args.commitments == "process" else "the bench process"
    print(f"events → mails: {args.events} events a round, {len(rounds)} rounds, {mail_size:.0f} B a mail, "
          f"{args.connections} SMTP connections, sink in {where}, commitments service in {service_where}")
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"  ratio per round {', '.join(f'{r:.2f}' for r in ratios)}; median {ratio:.2f} ({verdict} the "
          f"{TARGET_RATIO} target)")
    return 0


async def _baseline_side(mails: list[tuple[str, list[str], bytes]], sink: Any, connections: int) -> Side:
    _, _, sink_cpu_before = await sink.stats()
    cpu_before = time.process_time()
    seconds = await _baseline(mails, sink.hostname, sink.port, connections)
    cpu = time.process_time() - cpu_before
    _, _, sink_cpu_after = await sink.stats()
    return Side(seconds, cpu, sink_cpu_after - sink_cpu_before)


def _print_round(number: int, events: int, service: Side, baseline: Side, sink_apart: bool) -> None:
    def side(label: str, measured: Side) -> str:
        per_mail = 1000 / events
        sink_part = f", sink {measured.sink_cpu * per_mail:.2f} ms" if sink_apart else ""
        return (f"{label} {events / measured.seconds:7.1f} mails/s ({measured.seconds:.2f} s; CPU a mail: bench "
                f"process {measured.cpu * per_mail:.2f} ms{sink_part})")

    print(f"  round {number}: {side('worker', service)} | {side('bare loop', baseline)} | ratio "
          f"{baseline.seconds / service.seconds:.2f}", flush=True)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_measure(args))
