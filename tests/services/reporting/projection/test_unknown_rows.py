"""An event naming an item or a deadline the read model does not hold cannot be applied: never silently. It is
counted (engagements_reporting_events_skipped_total, by type) and logged as a warning with its id; the other
events of the batch are applied."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import date

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.reporting.projection.models import Item
from services.reporting.projection.projector import apply_batch, sources
from shared.bus import StreamSpec
from shared.db import create_engine, create_sessionmaker
from shared.events import EventEnvelope
from shared.events import commitments as ev
from tests.services.reporting.conftest import reporting_settings
from tests.services.reporting.scripted_events import Script

NewDatabase = Callable[..., Awaitable[str]]
DAY = date(2026, 3, 2)
METRIC = "engagements_reporting_events_skipped_total"


def _skipped(event_type: str) -> float:
    return REGISTRY.get_sample_value(METRIC, {"type": event_type}) or 0.0


async def test_events_about_unknown_rows_are_counted_and_logged(
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = reporting_settings(await new_reporting_database(), nats_url, streams)
    source = sources(settings)[0]
    known, unknown, deadline = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    script = Script()
    script.emit(
        ev.ItemCreated(
            item_id=known,
            plan_id=uuid.uuid4(),
            objective_id=uuid.uuid4(),
            kind="request",
            title="Demande connue",
            status="draft",
            lead_partner_id=None,
            associated_partner_ids=[],
            tags=[],
            needs_review=False,
        ),
        DAY,
    )
    orphans: list[EventEnvelope] = [
        script.emit(
            ev.ItemStatusChanged(item_id=unknown, from_status="draft", to_status="sent", on=DAY), DAY
        ),
        script.emit(ev.DeadlineMetChanged(deadline_id=deadline, item_id=known, met_on=DAY), DAY),
    ]
    script.emit(ev.ItemStatusChanged(item_id=known, from_status="draft", to_status="sent", on=DAY), DAY)
    before = {envelope.type: _skipped(envelope.type) for envelope in orphans}

    caplog.set_level(logging.WARNING, logger="services.reporting.projection.commitments")
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        sessionmaker = create_sessionmaker(engine)
        messages = [
            (seq, envelope.model_dump_json().encode()) for seq, envelope in enumerate(script.commitments, 1)
        ]
        assert await apply_batch(sessionmaker, source, messages) == len(messages)
        async with sessionmaker() as session:
            statuses = {
                row.id: row.status for row in (await session.execute(select(Item.id, Item.status))).all()
            }
    finally:
        await engine.dispose()

    assert statuses == {known: "sent"}  # the rest of the batch applied
    assert {envelope.type: _skipped(envelope.type) - before[envelope.type] for envelope in orphans} == {
        "item.status_changed": 1.0,
        "deadline.met_changed": 1.0,
    }
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    for envelope, what in zip(orphans, (f"item {unknown}", f"deadline {deadline}"), strict=True):
        assert any(str(envelope.id) in line and f"{what} unknown" in line for line in warnings), warnings
