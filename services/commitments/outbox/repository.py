"""Queries of the relay: the oldest unpublished outbox rows, and how far behind the relays are."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.outbox.models import OutboxMessage

_UNPUBLISHED = OutboxMessage.published_at.is_(None)


async def oldest_unpublished(session: AsyncSession, limit: int, claim: bool) -> list[OutboxMessage]:
    """The oldest rows not published yet, in order; with `claim`, locked for this transaction, skipping the
    rows another relay holds (PostgreSQL)."""
    query = select(OutboxMessage).where(_UNPUBLISHED).order_by(OutboxMessage.position).limit(limit)
    if claim:
        query = query.with_for_update(skip_locked=True)
    return list((await session.scalars(query)).all())


async def unpublished_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(OutboxMessage).where(_UNPUBLISHED)) or 0)


async def oldest_unpublished_at(session: AsyncSession) -> datetime | None:
    query = select(OutboxMessage.created_at).where(_UNPUBLISHED).order_by(OutboxMessage.position).limit(1)
    return (await session.execute(query)).scalar()
