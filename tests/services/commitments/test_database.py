"""The commitments unit of work: a commit that wrote outbox rows wakes the relay, a rollback forgets them, and a
savepoint rolled back inside the transaction forgets nothing written before it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.commitments.database import outbox_aware_sessionmaker
from services.commitments.outbox.models import OutboxMessage
from services.commitments.outbox.recorder import record_event
from shared.auth import SYSTEM
from shared.clock import FixedClock
from shared.events.commitments import ContactErased

CLOCK = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def _event() -> ContactErased:
    return ContactErased(contact_id=uuid.uuid4(), partner_id=uuid.uuid4())


async def _outbox_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_a_savepoint_rolled_back_after_an_event_still_wakes_the_relay_at_commit(
    engine: AsyncEngine,
) -> None:
    wakes: list[None] = []
    sessionmaker = outbox_aware_sessionmaker(engine, lambda: wakes.append(None))

    async with sessionmaker() as session, session.begin():
        record_event(session, _event(), SYSTEM, CLOCK)
        with pytest.raises(ValueError):
            async with session.begin_nested():
                record_event(session, _event(), SYSTEM, CLOCK)
                await session.flush()
                raise ValueError("this part is undone")
    assert (len(wakes), await _outbox_rows(engine)) == (1, 1)

    with pytest.raises(ValueError):
        async with sessionmaker() as session, session.begin():
            record_event(session, _event(), SYSTEM, CLOCK)
            await session.flush()
            raise ValueError("all of it is undone")
    async with sessionmaker() as session, session.begin():
        pass  # a commit that wrote nothing: the rolled-back event was forgotten with its transaction
    assert (len(wakes), await _outbox_rows(engine)) == (1, 1)
