"""Contact preferences: read with their default, and update."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.preferences import repository
from services.notifications.preferences.models import ApproachingMode, ContactPreference
from services.notifications.preferences.schemas import PreferencesRead, PreferencesUpdate
from shared.clock import Clock


async def read(session: AsyncSession, contact_id: uuid.UUID) -> PreferencesRead:
    """A contact's preferences, or the default (immediate) when it never chose."""
    row = await repository.get(session, contact_id)
    if row is None:
        return PreferencesRead(contact_id=contact_id, approaching=ApproachingMode.IMMEDIATE, updated_at=None)
    return PreferencesRead.model_validate(row)


async def update(
    session: AsyncSession, clock: Clock, contact_id: uuid.UUID, body: PreferencesUpdate
) -> PreferencesRead:
    """Store a contact's preferences (reminders already held for a digest stay in it)."""
    row = await repository.get(session, contact_id)
    if row is None:
        row = ContactPreference(contact_id=contact_id)
        session.add(row)
    row.approaching = body.approaching.value
    row.updated_at = clock.now()
    await session.flush()
    return PreferencesRead.model_validate(row)
