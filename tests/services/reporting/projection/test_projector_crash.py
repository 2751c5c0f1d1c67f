"""The projector process (`python -m services.reporting project`) killed with SIGKILL in the middle of its work,
then restarted: the tables come out as a rebuild from the streams makes them, and the scorecard as worked out by
hand. Events published twice (under another message id: past JetStream's dedup) are applied once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import nats

from services.reporting.config import ReportingSettings
from services.reporting.projection.rebuild import rebuild
from services.reporting.reports import service
from services.reporting.reports.schemas import Period
from shared.auth import Principal, Role
from shared.bus import StreamSpec, publish_event
from shared.db import create_engine, create_sessionmaker
from shared.events import commitments as ev
from tests.services.reporting.conftest import reporting_settings
from tests.services.reporting.history import EXPECTED_A, PERIOD, clock, scorecard_story
from tests.services.reporting.running_projector import dump_tables, positions, stream_last_seqs
from tests.services.reporting.scripted_events import Script, publish_all
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[4]
NewDatabase = Callable[..., Awaitable[str]]
NOISE_ITEMS = 150  # another partner's requests, 4 events each: enough work for the kill to land amid it


def _environment(settings: ReportingSettings) -> dict[str, str]:
    values = {
        "REPORTING_DATABASE_URL": settings.database_url,
        "NATS_URL": settings.nats_url,
        "EVENTS_STREAM": settings.events_stream,
        "EVENTS_SUBJECT_PREFIX": settings.events_subject_prefix,
        "NOTIFICATIONS_EVENTS_STREAM": settings.notifications_events_stream,
        "NOTIFICATIONS_EVENTS_SUBJECT_PREFIX": settings.notifications_events_subject_prefix,
        "PROJECTOR_DURABLE": settings.projector_durable,
        "PROJECTOR_BATCH_SIZE": "10",
        # Short, so that the batch the killed process held comes back soon after the restart.
        "PROJECTOR_ACK_WAIT_SECONDS": "2",
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
    }
    return {**os.environ, **values}


@contextmanager
def projector_process(settings: ReportingSettings) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "services.reporting", "project"], cwd=ROOT, env=_environment(settings)
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def noise(plan_id: uuid.UUID, objective_id: uuid.UUID) -> Script:
    script = Script()
    partner = uuid.uuid4()
    script.emit(
        ev.PartnerCreated(partner_id=partner, name="Partenaire C", kind="association", is_group=False),
        date(2026, 1, 5),
    )
    for n in range(NOISE_ITEMS):
        item = uuid.uuid4()
        script.emit(
            ev.ItemCreated(
                item_id=item,
                plan_id=plan_id,
                objective_id=objective_id,
                kind="request",
                title=f"Demande C{n}",
                status="draft",
                lead_partner_id=partner,
                associated_partner_ids=[],
                tags=[],
                needs_review=False,
            ),
            date(2026, 1, 5),
        )
        script.emit(
            ev.DeadlineSet(
                deadline_id=uuid.uuid4(),
                item_id=item,
                kind="response",
                due_on=date(2026, 4, 1),
                previous_due_on=None,
                deadline_version=1,
            ),
            date(2026, 1, 5),
        )
        script.emit(
            ev.ItemStatusChanged(item_id=item, from_status="draft", to_status="sent", on=date(2026, 3, 2)),
            date(2026, 3, 2),
        )
        script.emit(
            ev.ItemStatusChanged(
                item_id=item, from_status="sent", to_status="accepted", on=date(2026, 3, 10)
            ),
            date(2026, 3, 10),
        )
    return script


async def test_killed_mid_work_then_restarted_gives_the_same_tables_and_figures(
    new_reporting_database: NewDatabase, nats_url: str, streams: tuple[StreamSpec, StreamSpec]
) -> None:
    story = scorecard_story(uuid.uuid4(), uuid.uuid4())
    settings = reporting_settings(await new_reporting_database(), nats_url, streams)
    extra = noise(story.ids["plan"], story.ids["objective"])
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        await publish_all(
            js, streams[0], story.script.commitments[:40] + extra.commitments + story.script.commitments[40:]
        )
        await publish_all(js, streams[1], story.script.notifications)
        # The same events again under other message ids: JetStream keeps them, the projection must not.
        for envelope in story.script.commitments[40:50] + story.script.notifications[:3]:
            spec = streams[0] if envelope in story.script.commitments else streams[1]
            await publish_event(
                js, spec, f"again-{envelope.id}", envelope.type, envelope.model_dump_json().encode(), {}
            )
        total = await stream_last_seqs(client, streams)

        with projector_process(settings) as first:

            async def some_applied() -> bool:
                return (await positions(settings.database_url)).get("commitments", 0) >= 50

            await wait_until(some_applied, "the projector to apply its first batches")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        held = await positions(settings.database_url)
        assert held.get("commitments", 0) < total["commitments"], (
            "the kill came after the end: make more events"
        )

        with projector_process(settings):

            async def caught_up() -> bool:
                now = await positions(settings.database_url)
                return all(now.get(name, 0) >= seq for name, seq in total.items())

            await wait_until(caught_up, "the restarted projector to catch up", timeout=120)
            await asyncio.sleep(0.5)  # anything it would still do wrongly has time to land

        fresh = await new_reporting_database(migrated=False)
        await rebuild(settings, into=fresh, client=client, show_progress=False)
    finally:
        await client.drain()
    assert await dump_tables(settings.database_url) == await dump_tables(fresh)

    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            card = await service.partner_scorecard(
                session,
                Principal(role=Role.READER),
                clock(),
                story.ids["a"],
                Period(start=date.fromisoformat(PERIOD[0]), end=date.fromisoformat(PERIOD[1])),
                20,
            )
    finally:
        await engine.dispose()
    assert {
        key: value for key, value in card.model_dump(mode="json").items() if key in EXPECTED_A
    } == EXPECTED_A
