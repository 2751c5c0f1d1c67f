"""Scenario `notifications_throughput`: deadline reminder events to emails through the notifications worker
(JetStream consumer → deliveries table → render → SMTP), beside a baseline that builds the same mails with the
standard library's `email` package and sends them with aiosmtplib over the same number of SMTP connections, in
the same run.

    python -m bench notifications_throughput [--events N] [--connections C] [--sink process|thread]
        [--commitments process|thread] [--mail-rounds R] [--latency-probes P]

One run: SQLite files in a temporary folder for both services; the commitments service in a process of its
own, as deployed (`python -m services.commitments serve`; seeded with one partner, its liaison and an item
with a deadline), so that its answers and its outbox relay do not run on the worker's event loop (a
`--commitments thread` run serves it under uvicorn in this process instead); a local aiosmtpd sink
(bench/smtp_sink.py: counts and keeps each message's envelope and bytes) in a process of its own, as the
embedded run deploys it (`--sink process`, the default), or in a thread of this process (`--sink thread`); a
stream of its own on the NATS server at BENCH_NATS_URL. Then R paired rounds: N `deadline.due` events are
published, the worker runs from its start until the sink holds N more mails, and right after, the baseline
builds the very mails the sink received from the worker in that round (same envelope, headers, subject and
bodies, read back before its clock starts) as `EmailMessage`s with `email.policy.SMTP` and quoted-printable
bodies, and sends them through the same sink with C aiosmtplib connections (`send_message`), each connection
sending its share one after the other. Each round gives a ratio of the two throughputs; the verdict is on the
median round (target ≥ 0.7), so that the machine's drift, which moves both sides of a round together, cancels
out. Last, P latency probes: one event at a time published to an idle worker, timed until its mail reaches the
sink (median printed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import shutil
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import nats

describe = (
    "deadline events → emails through the notifications worker vs the same mails built with the standard "
    "library's email package and sent with aiosmtplib"
)

TARGET_RATIO = 0.7
ROOT = Path(__file__).resolve().parents[1]
NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("notifications_throughput")
    group.add_argument(
        "--events", type=int, default=2000, help="reminder events, one mail each (default 2000)"
    )
    group.add_argument(
        "--connections", type=int, default=4, help="SMTP connections on both sides (default 4)"
    )
    group.add_argument(
        "--sink",
        choices=("process", "thread"),
        default="process",
        help="where the aiosmtpd sink runs: its own process (default, as deployed) or a thread "
        "of the bench process",
    )
    group.add_argument(
        "--commitments",
        choices=("process", "thread"),
        default="process",
        help="where the commitments service runs: its own process (default, as deployed) or "
        "this process's event loop",
    )
    group.add_argument(
        "--mail-rounds",
        type=int,
        default=3,
        help="paired rounds, worker then baseline on the same mails (default 3; median ratio)",
    )
    group.add_argument(
        "--latency-probes",
        type=int,
        default=5,
        help="single events sent to an idle worker after the rounds, timed to the sink (default 5)",
    )
    group.add_argument(
        "--worker-tracing",
        action="store_true",
        help="record the worker's spans (an SDK tracer provider with a span processor that drops "
        "them), to measure what tracing costs; by default none is installed, as in a "
        "deployment without an OTLP endpoint",
    )
    group.add_argument(
        "--worker-profile",
        metavar="FILE",
        help="profile the worker's side of each round with cProfile (the baseline is not "
        "profiled), write the stats to FILE and print the functions of the send path that "
        "cost the most; the profiler slows the worker, so the ratios of such a run are not "
        "figures",
    )


# The headers the baseline writes, as the worker's mails carry them.
HEADERS = (
    "From",
    "To",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Date",
    "Auto-Submitted",
    "Content-Language",
)


@dataclass
class MailContent:
    """What one of the worker's mails says, read back from the sink's bytes before the baseline's clock starts."""

    sender: str
    recipients: list[str]
    headers: list[tuple[str, str]]
    text: str
    html: str


def _contents(mails: list[tuple[str, list[str], bytes]]) -> list[MailContent]:
    contents = []
    for sender, recipients, raw in mails:
        parsed = message_from_bytes(raw, policy=policy.default)
        plain, rich = parsed.get_body(("plain",)), parsed.get_body(("html",))
        assert plain is not None and rich is not None
        contents.append(
            MailContent(
                sender,
                recipients,
                [(name, str(parsed[name])) for name in HEADERS if parsed[name] is not None],
                plain.get_content(),
                rich.get_content(),
            )
        )
    return contents


async def _baseline(contents: list[MailContent], host: str, port: int, connections: int) -> float:
    """Seconds to build `contents` with the standard library's email package and send them with aiosmtplib over
    `connections` kept-open connections."""
    shares = [contents[index::connections] for index in range(connections)]

    async def send_share(share: list[MailContent]) -> None:
        client = aiosmtplib.SMTP(hostname=host, port=port)
        await client.connect()
        for content in share:
            message = EmailMessage(policy=policy.SMTP)
            message.set_content(content.text, cte="quoted-printable")
            message.add_alternative(content.html, subtype="html", cte="quoted-printable")
            for name, value in content.headers:
                message[name] = value
            await client.send_message(message, sender=content.sender, recipients=content.recipients)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(send_share(share) for share in shares))
    return time.perf_counter() - started


@dataclass
class Side:
    """One side of a round: wall seconds for the round's mails, CPU seconds of this process and of the sink."""

    seconds: float
    cpu: float
    sink_cpu: float


async def _measure(args: argparse.Namespace) -> int:
    from bench.machinery.smtp_sink import ProcessSink, ThreadSink
    from services.commitments.migrate import upgrade_database as upgrade_commitments
    from services.notifications.config import NotificationsSettings
    from services.notifications.consumer import worker
    from services.notifications.migrate import upgrade_database as upgrade_notifications
    from shared.bus import StreamSpec, ensure_stream
    from shared.clock import SystemClock

    # The tests' helpers: the commitments service under uvicorn, a seeded partner and item, events.
    from tests.services.notifications.served_commitments import commitments_process, serve_commitments
    from tests.services.notifications.world import publish, reminder_event, seed_world, send_items

    if args.worker_tracing:
        _record_spans()
    profiler = cProfile.Profile() if args.worker_profile else None
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
    mail_size = baseline_size = 0.0
    latencies: list[float] = []
    try:
        async with ProcessSink() if args.sink == "process" else ThreadSink() as sink:
            serving = (
                commitments_process(commitments_url, NATS_URL, stream, folder)
                if args.commitments == "process"
                else serve_commitments(commitments_url, NATS_URL, stream, folder)
            )
            async with serving as commitments:
                world = await seed_world(commitments)
                await send_items(
                    commitments, world, "item"
                )  # a draft takes no reminder: the sender cancels those
                await ensure_stream(js, stream)
                settings = NotificationsSettings(
                    notifications_database_url=notifications_url,
                    nats_url=NATS_URL,
                    events_stream=stream.name,
                    events_subject_prefix=stream.subject_prefix,
                    commitments_url=commitments.url,
                    notifications_events_stream=f"{stream.name}_EV",
                    notifications_events_subject_prefix=f"{stream.subject_prefix}ev",
                    commitments_api_key=commitments.service_secret,
                    smtp_host=sink.hostname,
                    smtp_port=sink.port,
                    smtp_connections=args.connections,
                    consumer_durable="bench",
                    action_link_secret="bench-secret",
                    data_dir=folder,
                    log_json=False,
                )
                for round_number in range(args.mail_rounds):
                    for number in range(args.events):
                        await publish(
                            js,
                            stream,
                            reminder_event(
                                world, "due", step=f"due-{round_number}-{number}", audience=("liaison",)
                            ),
                        )
                    before, before_bytes, sink_cpu_before = await sink.stats()
                    stop = asyncio.Event()
                    # A worker per round, built before the clock starts (connections, identity: a start-up cost
                    # paid once); the durable consumer carries on where the last one stopped.
                    async with worker(settings, SystemClock()) as running:
                        if profiler is not None:
                            profiler.enable()
                        cpu_before, started = time.process_time(), time.perf_counter()
                        task = asyncio.create_task(running.run(stop))
                        try:  # a generous bound (runs take seconds), so that a worker sending nothing fails the run
                            await asyncio.wait_for(
                                sink.wait_for(before + args.events), timeout=60 + args.events * 0.05
                            )
                        except TimeoutError:
                            print(
                                f"the sink holds {(await sink.stats())[0] - before} of the round's {args.events} "
                                "mails: the worker stalled"
                            )
                            stop.set()
                            await task
                            return 2
                        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_before
                        if profiler is not None:
                            profiler.disable()
                        received, received_bytes, sink_cpu_after = await sink.stats()
                        stop.set()
                        await task
                    service = Side(seconds, cpu, sink_cpu_after - sink_cpu_before)
                    mails = (await sink.mails())[before:]
                    baseline = await _baseline_side(_contents(mails), sink, args.connections)
                    total, total_bytes, _ = await sink.stats()
                    # Payload check: the baseline delivered the worker's mails of the round, one each.
                    round_bytes = received_bytes - before_bytes
                    ids = sorted(_message_ids(mails))
                    if (
                        received - before != args.events
                        or len(mails) != args.events
                        or total - received != args.events
                        or sorted(_message_ids((await sink.mails())[received:])) != ids
                        or len(set(ids)) != len(ids)
                    ):
                        print(
                            f"payload check failed in round {round_number + 1}: worker {received - before} mails, "
                            f"then the baseline {total - received}, or not the same Message-IDs"
                        )
                        return 2
                    mail_size, baseline_size = (
                        round_bytes / args.events,
                        (total_bytes - received_bytes) / args.events,
                    )
                    rounds.append((service, baseline))
                    _print_round(round_number + 1, args.events, service, baseline, args.sink == "process")
                latencies = await _latencies(args.latency_probes, settings, js, stream, world, sink)
    finally:
        for name in (stream.name, f"{stream.name}_EV"):  # the reminders, and the worker's own events
            with contextlib.suppress(Exception):  # not created when the run failed before publishing
                await js.delete_stream(name)
        await client.close()
        shutil.rmtree(folder, ignore_errors=True)
    if profiler is not None:
        _print_profile(profiler, args.worker_profile, args.events * len(rounds))
    ratios = sorted(baseline.seconds / service.seconds for service, baseline in rounds)
    ratio = statistics.median(ratios)
    where = "its own process" if args.sink == "process" else "a thread of the bench process"
    service_where = "its own process" if args.commitments == "process" else "the bench process"
    print(
        f"events → mails: {args.events} events a round, {len(rounds)} rounds, {mail_size:.0f} B a mail (baseline "
        f"{baseline_size:.0f} B), {args.connections} SMTP connections, sink in {where}, commitments service in "
        f"{service_where}, worker spans {'recorded' if args.worker_tracing else 'off (no tracer provider)'}"
    )
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(
        f"  ratio per round {', '.join(f'{r:.2f}' for r in ratios)}; median {ratio:.2f} ({verdict} the "
        f"{TARGET_RATIO} target)"
    )
    if latencies:
        print(
            f"  latency of one event to an idle worker, publish → mail at the sink: median "
            f"{statistics.median(latencies) * 1000:.0f} ms ({', '.join(f'{s * 1000:.0f}' for s in latencies)} ms)"
        )
    return 0


class _DroppedSpans:
    """A span exporter that keeps nothing: what a recorded span costs the worker, without a collector."""

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _record_spans() -> None:
    """Tracing as a deployment with an OTLP endpoint has it (shared.telemetry.setup_tracing: an SDK tracer
    provider, SQL spans, a batch span processor), spans dropped instead of sent."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from shared.telemetry import setup_tracing

    setup_tracing("notifications-worker", None).add_span_processor(BatchSpanProcessor(_DroppedSpans()))  # type: ignore[arg-type]


def _print_profile(profiler: cProfile.Profile, path: str, mails: int) -> None:
    """Write the worker's profile to `path`; print the costliest functions by own time, and by cumulative time
    those of the project's send path."""
    profiler.dump_stats(path)
    stats = pstats.Stats(profiler)
    total = sum(entry[2] for entry in stats.stats.values())  # type: ignore[attr-defined]
    print(f"worker profile ({path}): {total * 1000 / mails:.2f} ms of own time a mail under the profiler")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumtime").print_stats(r"services/notifications|shared/", 30)


def _message_ids(mails: list[tuple[str, list[str], bytes]]) -> list[str]:
    return [str(message_from_bytes(raw, policy=policy.default)["Message-ID"]) for _, _, raw in mails]


async def _latencies(probes: int, settings: Any, js: Any, stream: Any, world: Any, sink: Any) -> list[float]:
    """Seconds from publishing one event to its mail at the sink, the worker idle before each (its consumer
    waiting on a fetch, its sender on a poll or a wake-up)."""
    from services.notifications.consumer import worker
    from shared.clock import SystemClock
    from tests.services.notifications.world import publish, reminder_event

    latencies = []
    stop = asyncio.Event()
    async with worker(settings, SystemClock()) as running:
        task = asyncio.create_task(running.run(stop))
        try:
            for probe in range(probes):
                await asyncio.sleep(1.5)  # idle: past a consumer fetch timeout and most of a sender poll
                before = (await sink.stats())[0]
                started = time.perf_counter()
                await publish(
                    js, stream, reminder_event(world, "due", step=f"probe-{probe}", audience=("liaison",))
                )
                await asyncio.wait_for(sink.wait_for(before + 1), timeout=30)
                latencies.append(time.perf_counter() - started)
        finally:
            stop.set()
            await task
    return latencies


async def _baseline_side(contents: list[MailContent], sink: Any, connections: int) -> Side:
    _, _, sink_cpu_before = await sink.stats()
    cpu_before = time.process_time()
    seconds = await _baseline(contents, sink.hostname, sink.port, connections)
    cpu = time.process_time() - cpu_before
    _, _, sink_cpu_after = await sink.stats()
    return Side(seconds, cpu, sink_cpu_after - sink_cpu_before)


def _print_round(number: int, events: int, service: Side, baseline: Side, sink_apart: bool) -> None:
    def side(label: str, measured: Side) -> str:
        per_mail = 1000 / events
        sink_part = f", sink {measured.sink_cpu * per_mail:.2f} ms" if sink_apart else ""
        return (
            f"{label} {events / measured.seconds:7.1f} mails/s ({measured.seconds:.2f} s; CPU a mail: bench "
            f"process {measured.cpu * per_mail:.2f} ms{sink_part})"
        )

    print(
        f"  round {number}: {side('worker', service)} | {side('stdlib + aiosmtplib', baseline)} | ratio "
        f"{baseline.seconds / service.seconds:.2f}",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_measure(args))
