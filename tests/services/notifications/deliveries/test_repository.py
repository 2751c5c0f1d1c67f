"""The sender's claim on the deliveries table (SQLite and PostgreSQL): the oldest due rows, each taken by one
claim only, leased, counted and stamped with the claiming worker in the same statement."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.deliveries import repository, service
from services.notifications.deliveries.models import Delivery, DeliveryKind
from shared.db import create_engine, create_sessionmaker

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
LEASE = NOW + timedelta(minutes=5)
HOLDER = repository.Holder("host/0", 3)


@pytest.fixture
async def sessionmaker(notifications_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(notifications_database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        async with engine.begin() as connection:
            await connection.execute(delete(Delivery))
        await engine.dispose()


def _row(due_in_minutes: int | None, held: bool = False) -> dict[str, object]:
    row = service.new_row(
        event_id=uuid.uuid4(),
        contact_id=uuid.uuid4(),
        kind=DeliveryKind.REMINDER,
        event_type="deadline.due",
        event={"id": str(uuid.uuid4())},
        item_id=uuid.uuid4(),
        deadline_id=uuid.uuid4(),
        partner_id=uuid.uuid4(),
        audience="liaison",
        held=held,
        now=NOW,
        domain="sceaux.example",
    )
    if due_in_minutes is not None:
        row["next_attempt_at"] = NOW + timedelta(minutes=due_in_minutes)
    return row


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], limit: int, started: asyncio.Event | None = None
) -> list[repository.ClaimedDelivery]:
    async with sessionmaker() as session, session.begin():
        skip_locked = session.bind.dialect.name == "postgresql"
        claimed = await repository.claim_due(session, NOW, LEASE, limit, skip_locked, HOLDER)
        if started is not None:  # hold the claim open while the other one runs
            started.set()
            await asyncio.sleep(0.2)
        return claimed


async def test_claims_take_the_oldest_due_rows_once_each(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    due = [_row(-minutes) for minutes in (50, 40, 30, 20, 10)]  # the first is the oldest
    later, held = _row(+10), _row(None, held=True)
    async with sessionmaker() as session, session.begin():
        await repository.insert_ignoring_duplicates(session, [*due, later, held])

    started = asyncio.Event()
    first_task = asyncio.create_task(_claim(sessionmaker, 2, started))
    await started.wait()
    second = await _claim(sessionmaker, 2)  # PostgreSQL skips the rows the first still holds; SQLite waits
    first = await first_task
    third = await _claim(sessionmaker, 10)

    claimed_ids = [row.id for row in (*first, *second, *third)]
    assert sorted(claimed_ids) == sorted(row["id"] for row in due)  # each due row once, nothing else
    assert [row.id for row in first] == sorted(row["id"] for row in due[:2])  # the oldest, returned by id
    assert {row.attempts for row in (*first, *second, *third)} == {1}
    assert first[0].message_id == due[0]["message_id"] and first[0].kind == "reminder"
    assert first[0].event == due[0]["event"] and first[0].contact_id == due[0]["contact_id"]
    assert await _claim(sessionmaker, 10) == []  # leased: not due again before the lease ends
    async with sessionmaker() as session:
        rows = {row.id: row for row in (await session.scalars(select(Delivery))).all()}
    assert {rows[row_id].next_attempt_at for row_id in claimed_ids} == {LEASE}
    assert {(rows[row_id].claimed_by, rows[row_id].claim_generation) for row_id in claimed_ids} == {
        ("host/0", 3)
    }
    assert rows[later["id"]].attempts == 0 and rows[held["id"]].attempts == 0
