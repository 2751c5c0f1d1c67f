"""Scenario `notifications_throughput`: deadline reminder events to emails through the notifications worker
(JetStream consumer → deliveries table → render → SMTP), beside a bare aiosmtplib loop sending the same
messages over the same number of SMTP connections, in the same run.

    python -m bench notifications_throughput [--events N] [--connections C] [--sink process|thread]

One run: SQLite files in a temporary folder for both services; the commitments service served under uvicorn
in this process (seeded with one partner, its liaison and an item with a deadline); a local aiosmtpd sink
(bench/smtp_sink.py: counts and keeps each message's envelope and bytes) in a process of its own, as the
embedded run deploys it (`--sink process`, the default), or in a thread of this process (`--sink thread`); a
stream of its own on the NATS server at BENCH_NATS_URL. N `deadline.due` events are published first; the clock
runs from the worker's start until the sink holds N mails. The baseline then sends the very messages the sink
received (same bytes, same envelopes) through the same sink with C aiosmtplib connections, each sending its
share one after the other (best of two). Prints both throughputs, the CPU each side used, and the ratio
(target ≥ 0.7).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import aiosmtplib
import nats

describe = "deadline events → emails through the notifications worker vs a bare aiosmtplib loop (same messages)"

TARGET_RATIO = 0.7
NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("notifications_throughput")
    group.add_argument("--events", type=int, default=2000, help="reminder events, one mail each (default 2000)")
    group.add_argument("--connections", type=int, default=4, help="SMTP connections on both sides (default 4)")
    group.add_argument("--sink", choices=("process", "thread"), default="process",
                       help="where the aiosmtpd sink runs: its own process (default, as deployed) or a thread "
                            "of the bench process")


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


async def _measure(args: argparse.Namespace) -> int:
    from bench.smtp_sink import ProcessSink, ThreadSink
    from services.commitments.migrate import upgrade_database as upgrade_commitments
    from services.notifications.config import NotificationsSettings
    from services.notifications.consumer import worker
    from services.notifications.migrate import upgrade_database as upgrade_notifications
    from shared.bus import StreamSpec, ensure_stream
    from shared.clock import SystemClock
    # The tests' helpers: the commitments service under uvicorn, a seeded partner and item, events.
    from tests.services.notifications.support import (publish, reminder_event, seed_world, send_items,
                                                     serve_commitments)

    folder = Path(tempfile.mkdtemp(prefix="bench-notifications-"))
    commitments_url = f"sqlite:///{folder / 'commitments.db'}"
    notifications_url = f"sqlite:///{folder / 'notifications.db'}"
    upgrade_commitments(commitments_url)
    upgrade_notifications(notifications_url)
    suffix = uuid.uuid4().hex[:8]
    stream = StreamSpec(f"BENCH_NOTIF_{suffix}", f"bench{suffix}.commitments")
    client = await nats.connect(NATS_URL, connect_timeout=2)
    js = client.jetstream()
    rounds = 2
    try:
        async with ProcessSink() if args.sink == "process" else ThreadSink() as sink:
            async with serve_commitments(commitments_url, NATS_URL, stream, folder) as commitments:
                world = await seed_world(commitments)
                await send_items(commitments, world, "item")  # a draft takes no reminder: the sender cancels those
                await ensure_stream(js, stream)
                for number in range(args.events):
                    await publish(js, stream, reminder_event(world, "due", step=f"due-{number}",
                                                             audience=("liaison",)))
                settings = NotificationsSettings(
                    notifications_database_url=notifications_url, nats_url=NATS_URL, events_stream=stream.name,
                    events_subject_prefix=stream.subject_prefix, commitments_url=commitments.url,
                    commitments_api_key=commitments.service_secret, smtp_host=sink.hostname,
                    smtp_port=sink.port, smtp_connections=args.connections, consumer_durable="bench",
                    action_link_secret="bench-secret", log_json=False)
                stop = asyncio.Event()
                async with worker(settings, SystemClock()) as running:
                    _, _, sink_cpu_before = await sink.stats()
                    cpu_before, started = time.process_time(), time.perf_counter()
                    task = asyncio.create_task(running.run(stop))
                    try:  # a generous bound (runs take seconds), so that a worker sending nothing fails the run
                        await asyncio.wait_for(sink.wait_for(args.events), timeout=60 + args.events * 0.05)
                    except TimeoutError:
                        print(f"the sink holds {(await sink.stats())[0]} of {args.events} mails: the worker stalled")
                        stop.set()
                        await task
                        return 2
                    service_seconds = time.perf_counter() - started
                    service_cpu = time.process_time() - cpu_before
                    received, received_bytes, sink_cpu_after = await sink.stats()
                    service_sink_cpu = sink_cpu_after - sink_cpu_before
                    stop.set()
                    await task
            mails = await sink.mails()
            baseline_runs = []
            for _ in range(rounds):
                _, _, sink_cpu_before = await sink.stats()
                cpu_before = time.process_time()
                seconds = await _baseline(mails, sink.hostname, sink.port, args.connections)
                _, _, sink_cpu_after = await sink.stats()
                baseline_runs.append((seconds, time.process_time() - cpu_before, sink_cpu_after - sink_cpu_before))
            total, total_bytes, _ = await sink.stats()
            # Payload check: the baseline delivered exactly the worker's messages, byte for byte, each round.
            if received != args.events or total != received * (1 + rounds) or total_bytes != received_bytes * (1 + rounds):
                print(f"payload check failed: worker {received} mails / {received_bytes} B, after the baseline "
                      f"{total} / {total_bytes} B")
                return 2
    finally:
        with contextlib.suppress(Exception):  # not created when the run failed before publishing
            await js.delete_stream(stream.name)
        await client.close()
        shutil.rmtree(folder, ignore_errors=True)
    baseline_seconds, baseline_cpu, baseline_sink_cpu = min(baseline_runs)
    service_rate = args.events / service_seconds
    baseline_rate = len(mails) / baseline_seconds
    ratio = service_rate / baseline_rate
    per_mail = 1000 / args.events
    where = "its own process" if args.sink == "process" else "a thread of the bench process"
    print(f"events → mails: {args.events} events, {received} mails received ({received_bytes / received:.0f} B "
          f"each), {args.connections} SMTP connections, sink in {where}")
    print(f"  notifications worker : {service_rate:8.1f} mails/s ({service_seconds:.2f} s; CPU per mail: "
          f"bench process {service_cpu * per_mail:.2f} ms" + (
              f", sink {service_sink_cpu * per_mail:.2f} ms)" if args.sink == "process" else ")"))
    print(f"  bare aiosmtplib loop : {baseline_rate:8.1f} mails/s ({baseline_seconds:.2f} s, best of {rounds}; "
          f"CPU per mail: bench process {baseline_cpu * per_mail:.2f} ms" + (
              f", sink {baseline_sink_cpu * per_mail:.2f} ms)" if args.sink == "process" else ")"))
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"  ratio {ratio:.2f} ({verdict} the {TARGET_RATIO} target)")
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_measure(args))
