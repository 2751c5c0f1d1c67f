"""Queries on contact preferences."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.preferences.models import ContactPreference


async def get(session: AsyncSession, contact_id: uuid.UUID) -> ContactPreference | None:
    return await session.get(ContactPreference, contact_id)


async def approaching_modes(session: AsyncSession, contact_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The stored "approaching" mode of each of these contacts that has one."""
    ids = list(contact_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(ContactPreference.contact_id, ContactPreference.approaching).where(
            ContactPreference.contact_id.in_(ids)
        )
    )
    return dict(rows.tuples().all())
