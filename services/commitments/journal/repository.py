from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.auth.models import ApiKey
from services.commitments.contacts.models import Contact
from services.commitments.journal.models import JournalEntry


async def list_for_item(session: AsyncSession, item_id: uuid.UUID) -> Sequence[JournalEntry]:
    query = (
        select(JournalEntry)
        .where(JournalEntry.item_id == item_id)
        .order_by(JournalEntry.occurred_on, JournalEntry.id)
    )
    return (await session.scalars(query)).all()


async def keys_by_id(session: AsyncSession, key_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, ApiKey]:
    if not key_ids:
        return {}
    return {key.id: key for key in await session.scalars(select(ApiKey).where(ApiKey.id.in_(list(key_ids))))}


async def contacts_by_id(
    session: AsyncSession, contact_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Contact]:
    if not contact_ids:
        return {}
    query = select(Contact).where(Contact.id.in_(list(contact_ids)))
    return {contact.id: contact for contact in await session.scalars(query)}
