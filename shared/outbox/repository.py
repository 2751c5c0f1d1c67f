"""Queries of the relay on a service's outbox table: the oldest unpublished rows, and how far behind the
relays are."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox.models import OutboxColumns

Row = TypeVar("Row", bound=OutboxColumns)


def _lock_key(model: type[OutboxColumns]) -> int:
    """The advisory lock's key for this outbox table: a signed 64-bit number from its name, the same in every
    process (Python's own hash() of a string is not)."""
    mapper = inspect(model)
    assert mapper is not None  # a mapped class: its service's outbox table
    table = mapper.tables[0].name
    digest = hashlib.blake2b(f"outbox-relay:{table}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_outbox(session: AsyncSession, model: type[OutboxColumns]) -> bool:
    """Take the relays' lock on this outbox table for the current transaction (PostgreSQL), without waiting:
    False when another relay holds it. Released when the transaction ends, however it ends."""
    return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(_lock_key(model)))))


async def oldest_unpublished(session: AsyncSession, model: type[Row], limit: int) -> list[Row]:
    """The oldest rows not published yet, in order."""
    query = select(model).where(model.published_at.is_(None)).order_by(model.position).limit(limit)
    return list((await session.scalars(query)).all())


async def mark_published(
    session: AsyncSession, model: type[OutboxColumns], positions: list[int], at: datetime
) -> None:
    """Mark these rows published, in one statement for the batch (not an UPDATE per row)."""
    table = inspect(model, raiseerr=True).local_table
    await session.execute(update(table).where(table.c.position.in_(positions)).values(published_at=at))


async def unpublished(session: AsyncSession, model: type[OutboxColumns]) -> tuple[int, datetime | None]:
    """How many rows are not published yet, and when the oldest of them was written: one query."""
    query = select(func.count(), func.min(model.created_at)).where(model.published_at.is_(None))
    count, oldest = (await session.execute(query)).one()
    return int(count or 0), oldest
