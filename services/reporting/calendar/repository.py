"""Queries on the calendar feeds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.calendar.models import CalendarFeed
from services.reporting.projection.models import Partner


async def by_token_hash(session: AsyncSession, token_sha256: str) -> CalendarFeed | None:
    return (
        await session.scalars(select(CalendarFeed).where(CalendarFeed.token_sha256 == token_sha256))
    ).first()


async def by_id(session: AsyncSession, feed_id: uuid.UUID) -> CalendarFeed | None:
    return await session.get(CalendarFeed, feed_id)


async def all_feeds(session: AsyncSession, partner_id: uuid.UUID | None = None) -> Sequence[CalendarFeed]:
    query = select(CalendarFeed).order_by(CalendarFeed.created_at, CalendarFeed.id)
    if partner_id is not None:
        query = query.where(CalendarFeed.partner_id == partner_id)
    return (await session.scalars(query)).all()


async def partner(session: AsyncSession, partner_id: uuid.UUID) -> Partner | None:
    return await session.get(Partner, partner_id)
