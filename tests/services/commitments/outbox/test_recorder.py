"""Recording events: one at a time through the session, or many in one executemany (the scanner's batches);
both write the same rows, in order, and both wake the relay at commit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.commitments.database import outbox_aware_sessionmaker
from services.commitments.outbox.models import OutboxMessage
from services.commitments.outbox.recorder import record_event, record_events
from shared.auth import SYSTEM
from shared.clock import FixedClock
from shared.events import EventEnvelope
from shared.events.commitments import ContactErased

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_many_events_at_once_make_the_same_rows_as_one_at_a_time(engine: AsyncEngine) -> None:
    wakes: list[None] = []
    sessionmaker = outbox_aware_sessionmaker(engine, lambda: wakes.append(None))
    events = [ContactErased(contact_id=uuid.uuid4(), partner_id=uuid.uuid4()) for _ in range(5)]

    async with sessionmaker() as session, session.begin():
        one = record_event(session, events[0], SYSTEM, FixedClock(NOW))
        many = await record_events(session, events[1:], SYSTEM, FixedClock(NOW))
        assert await record_events(session, [], SYSTEM, FixedClock(NOW)) == []
    assert len(wakes) == 1

    async with sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.position))).all()
    assert [row.event_id for row in rows] == [envelope.id for envelope in [one, *many]]
    for row, event in zip(rows, events, strict=True):
        envelope = EventEnvelope.model_validate_json(row.payload)
        assert (row.event_type, row.created_at, row.published_at) == ("contact.erased", NOW, None)
        assert (envelope.id, envelope.occurred_at, envelope.actor, envelope.parsed()) == (
            row.event_id,
            NOW,
            SYSTEM.actor,
            event,
        )
        assert isinstance(row.headers, dict)
