"""Scenario `reporting_catchup`: the reporting projector catching up on a stream, in events/s, beside a bare
consumer that writes each event's id and body into one table in the same batches.

    python -m bench reporting_catchup [--catchup-events N] [--catchup-batch B] [--catchup-rounds R]
                                      [--catchup-backend postgresql|sqlite]

One run: publish N events of a plan's life (partners, plan, items created, dated, sent, acknowledged, answered,
progress, delivered; and reminder deliveries on the notifications stream) into streams of the run's own, then,
round after round, alternating: the projector's own code (`StreamProjector.handle`, one transaction per batch,
then the acks) into a fresh migrated reporting database, and the bare consumer (the same pull consumer, fetch
size and acks; one `INSERT … ON CONFLICT DO NOTHING` of (id, body) per batch) into a fresh database with that one
table. Prints the rates, their medians and the ratio projector/baseline against the target (≥ 0.5). Databases
and streams are removed at the end, even on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

describe = (
    "reporting projector catch-up in events/s vs a bare consumer writing (id, body) (PostgreSQL or SQLite)"
)

TARGET_RATIO = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reporting_catchup")
    group.add_argument("--catchup-events", type=int, default=100_000, help="events in the streams (100000)")
    group.add_argument(
        "--catchup-batch", type=int, default=500, help="fetch and transaction size (500, the default)"
    )
    group.add_argument("--catchup-rounds", type=int, default=2, help="timed rounds of each, alternated (2)")
    group.add_argument("--catchup-backend", choices=("postgresql", "sqlite"), default="postgresql")


def history(n_events: int, seed: int = 7) -> tuple[list[Any], list[Any]]:
    """About n_events envelopes: 9 commitments events per item, and two reminder deliveries for one item in 4."""
    from shared.events import Actor, EventEnvelope
    from shared.events import commitments as ev

    rng = random.Random(seed)
    system = Actor(kind="system")
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    commitments: list[EventEnvelope] = []
    notifications: list[EventEnvelope] = []

    def emit(data: Any, at: datetime) -> None:
        commitments.append(EventEnvelope.wrap(data, at, system))

    partners = [uuid.uuid4() for _ in range(200)]
    for index, partner in enumerate(partners):
        emit(
            ev.PartnerCreated(
                partner_id=partner, name=f"Partenaire {index:03d}", kind="association", is_group=False
            ),
            start,
        )
    plan, axes = uuid.uuid4(), [uuid.uuid4() for _ in range(5)]
    emit(ev.PlanCreated(plan_id=plan, title="Plan d'action", commune="Sceaux"), start)
    objectives = []
    for number, axis in enumerate(axes, 1):
        emit(
            ev.AxisCreated(
                axis_id=axis, plan_id=plan, number=str(number), title=f"Axe {number}", position=number
            ),
            start,
        )
        for letter in "ABCD":
            objective = uuid.uuid4()
            objectives.append(objective)
            emit(
                ev.ObjectiveCreated(
                    objective_id=objective,
                    axis_id=axis,
                    plan_id=plan,
                    letter=letter,
                    title=f"Objectif {letter}",
                    position=ord(letter),
                ),
                start,
            )
    per_item = 9 + 0.5
    for n in range(max(1, int((n_events - len(commitments)) / per_item))):
        item, deadline, lead = uuid.uuid4(), uuid.uuid4(), rng.choice(partners)
        sent = date(2026, 1, 5) + timedelta(days=rng.randrange(300))
        at = datetime.combine(sent, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
        emit(
            ev.ItemCreated(
                item_id=item,
                plan_id=plan,
                objective_id=rng.choice(objectives),
                kind="request",
                title=f"Demande {n}",
                status="draft",
                lead_partner_id=lead,
                associated_partner_ids=rng.sample(partners, rng.randrange(3)),
                tags=[],
                needs_review=False,
            ),
            at,
        )
        emit(
            ev.DeadlineSet(
                deadline_id=deadline,
                item_id=item,
                kind="response",
                due_on=sent + timedelta(days=21),
                previous_due_on=None,
                deadline_version=1,
            ),
            at,
        )
        steps = [
            ("draft", "sent", 0),
            ("sent", "acknowledged", 2),
            ("acknowledged", "accepted", 9),
            ("accepted", "in_progress", 12),
            ("in_progress", "delivered", 60),
        ]
        for old, new, days in steps[:3]:
            emit(
                ev.ItemStatusChanged(
                    item_id=item, from_status=old, to_status=new, on=sent + timedelta(days=days)
                ),
                at,
            )
        emit(
            ev.JournalEntryAdded(
                entry_id=uuid.uuid4(),
                item_id=item,
                kind="progress",
                progress_percent=50,
                on=sent + timedelta(days=11),
            ),
            at,
        )
        emit(
            ev.DeadlineSet(
                deadline_id=uuid.uuid4(),
                item_id=item,
                kind="delivery",
                due_on=sent + timedelta(days=90),
                previous_due_on=None,
                deadline_version=1,
            ),
            at,
        )
        for old, new, days in steps[3:]:
            emit(
                ev.ItemStatusChanged(
                    item_id=item, from_status=old, to_status=new, on=sent + timedelta(days=days)
                ),
                at,
            )
        if n % 4 == 0:
            for outcome in ("delivery.sent", "delivery.sent"):
                notifications.append(
                    EventEnvelope(
                        type=outcome,
                        version=1,
                        occurred_at=at,
                        actor=system,
                        data={
                            "delivery_id": str(uuid.uuid4()),
                            "reminder_key": f"{deadline}:1:1:due",
                            "item_id": str(item),
                            "plan_id": str(plan),
                            "deadline_id": str(deadline),
                            "partner_id": str(lead),
                            "contact_id": str(uuid.uuid4()),
                            "channel": "email",
                            "attempt": 1,
                            "reason": None,
                        },
                    )
                )
    return commitments, notifications


async def publish(js: Any, spec: Any, envelopes: list[Any], chunk: int = 2000) -> None:
    from shared.bus import ensure_stream, publish_event

    await ensure_stream(js, spec)
    for start in range(0, len(envelopes), chunk):
        await asyncio.gather(
            *(
                publish_event(js, spec, str(e.id), e.type, e.model_dump_json().encode(), {})
                for e in envelopes[start : start + chunk]
            )
        )


BARE_TABLE = "CREATE TABLE bare_events (event_id uuid PRIMARY KEY, body text NOT NULL)"


def bare_consumer(sessionmaker: Any) -> Callable[[list[Any]], Awaitable[None]]:
    """The baseline's handling of a batch: each event's (id, body) in one statement and one transaction, then
    the acks."""
    import json

    from sqlalchemy import Column, MetaData, String, Table, Uuid

    from shared.db import insert_ignoring_conflicts

    table = Table(
        "bare_events", MetaData(), Column("event_id", Uuid, primary_key=True), Column("body", String)
    )

    async def handle(messages: list[Any]) -> None:
        rows = [{"event_id": uuid.UUID(json.loads(m.data)["id"]), "body": m.data.decode()} for m in messages]
        async with sessionmaker() as session, session.begin():
            await session.execute(insert_ignoring_conflicts(session, table, "event_id"), rows)
        for message in messages:
            await message.ack()

    return handle


async def consume_all(
    js: Any, spec: Any, durable: str, batch: int, total: int, handle: Callable[[list[Any]], Awaitable[None]]
) -> float:
    """Fetch the stream's `total` messages in batches through a fresh durable pull consumer, hand each batch to
    `handle` (which commits, then acks): the seconds it took."""
    from nats.js.api import AckPolicy, ConsumerConfig

    config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=60, max_ack_pending=batch)
    subscription = await js.pull_subscribe(
        spec.subject_for(">"), durable=durable, stream=spec.name, config=config
    )
    done = 0
    began = time.perf_counter()
    try:
        while done < total:
            messages = await subscription.fetch(batch, timeout=10)
            await handle(messages)
            done += len(messages)
        return time.perf_counter() - began
    finally:
        await subscription.unsubscribe()
        await js.delete_consumer(spec.name, durable)


async def _main(args: argparse.Namespace) -> int:
    import nats
    from sqlalchemy import text

    from bench.machinery.postgres import ADMIN_URL, admin_execute
    from bench.machinery.servers import NATS_URL
    from services.reporting.config import ReportingSettings
    from services.reporting.migrate import upgrade_database
    from services.reporting.projection.projector import StreamProjector, sources
    from shared.bus import StreamSpec
    from shared.db import create_engine, create_sessionmaker

    run = uuid.uuid4().hex[:8]
    commitments, notifications = history(args.catchup_events)
    total = len(commitments) + len(notifications)
    print(
        f"{total} events: {len(commitments)} commitments, {len(notifications)} notifications; batch "
        f"{args.catchup_batch}; {args.catchup_backend}",
        flush=True,
    )
    streams = (
        StreamSpec(f"BENCH_RC_{run}", f"bench{run}.commitments"),
        StreamSpec(f"BENCH_RN_{run}", f"bench{run}.notifications"),
    )
    client = await nats.connect(NATS_URL)
    js = client.jetstream()
    made: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="bench-catchup-"))

    async def fresh_database() -> str:
        name = f"bench_catchup_{run}_{len(made)}"
        made.append(name)
        if args.catchup_backend == "sqlite":
            return f"sqlite:///{folder / name}.db"
        from sqlalchemy.engine import make_url

        await admin_execute(f'CREATE DATABASE "{name}"')
        return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    rates: dict[str, list[float]] = {"projector": [], "baseline": []}
    try:
        began = time.perf_counter()
        await publish(js, streams[0], commitments)
        await publish(js, streams[1], notifications)
        print(f"published in {time.perf_counter() - began:.1f} s", flush=True)
        for round_number in range(1, args.catchup_rounds + 1):
            # The projector, as `project` runs it: StreamProjector.handle per batch, both streams.
            url = await fresh_database()
            upgrade_database(url)
            settings = ReportingSettings(
                reporting_database_url=url,
                events_stream=streams[0].name,
                events_subject_prefix=streams[0].subject_prefix,
                notifications_events_stream=streams[1].name,
                notifications_events_subject_prefix=streams[1].subject_prefix,
                projector_batch_size=args.catchup_batch,
            )
            engine = create_engine(url, pool_size=2)
            sessionmaker = create_sessionmaker(engine)
            seconds = 0.0
            for source, count in zip(sources(settings), (len(commitments), len(notifications)), strict=True):
                projector = StreamProjector(sessionmaker, js, source, settings)
                seconds += await consume_all(
                    js, source.spec, f"projector{round_number}", args.catchup_batch, count, projector.handle
                )
            await engine.dispose()
            rates["projector"].append(total / seconds)
            print(
                f"round {round_number}: projector {total / seconds:9.0f} events/s ({seconds:.1f} s)",
                flush=True,
            )

            # The baseline: the same fetches and acks, each batch's (id, body) in one statement.
            url = await fresh_database()
            engine = create_engine(url, pool_size=2)
            async with engine.begin() as connection:
                await connection.execute(text(BARE_TABLE))
            bare = bare_consumer(create_sessionmaker(engine))

            seconds = 0.0
            for spec, count in zip(streams, (len(commitments), len(notifications)), strict=True):
                seconds += await consume_all(js, spec, f"bare{round_number}", args.catchup_batch, count, bare)
            await engine.dispose()
            rates["baseline"].append(total / seconds)
            print(
                f"round {round_number}: baseline  {total / seconds:9.0f} events/s ({seconds:.1f} s)",
                flush=True,
            )
    finally:
        for spec in streams:
            with contextlib.suppress(Exception):
                await js.delete_stream(spec.name)
        await client.drain()
        if args.catchup_backend == "postgresql":
            for name in made:
                await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(folder, ignore_errors=True)
    projector_rate, baseline_rate = (
        statistics.median(rates["projector"]),
        statistics.median(rates["baseline"]),
    )
    ratio = projector_rate / baseline_rate
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(
        f"median: projector {projector_rate:.0f} events/s, baseline {baseline_rate:.0f} events/s; ratio {ratio:.2f} "
        f"({verdict} the target ≥ {TARGET_RATIO})",
        flush=True,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    from bench.machinery import run_async

    return run_async(_main, args)
