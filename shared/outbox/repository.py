"""Queries of the relay on a service's outbox table: the oldest unpublished rows, and how far behind the
relays are."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox.models import OutboxColumns

Row = TypeVar("Row", bound=OutboxColumns)


async def oldest_unpublished(session: AsyncSession, model: type[Row], limit: int, claim: bool) -> list[Row]:
    """The oldest rows not published yet, in order; with `claim`, locked for this transaction, skipping the
    rows another relay holds (PostgreSQL)."""
    query = select(model).where(model.published_at.is_(None)).order_by(model.position).limit(limit)
    if claim:
        query = query.with_for_update(skip_locked=True)
    return list((await session.scalars(query)).all())


async def unpublished_count(session: AsyncSession, model: type[OutboxColumns]) -> int:
    query = select(func.count()).select_from(model).where(model.published_at.is_(None))
    return int(await session.scalar(query) or 0)


async def oldest_unpublished_at(session: AsyncSession, model: type[OutboxColumns]) -> datetime | None:
    query = select(model.created_at).where(model.published_at.is_(None)).order_by(model.position).limit(1)
    return (await session.execute(query)).scalar()
