from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.contacts.models import Contact
from services.commitments.journal.models import JournalEntry


async def get(session: AsyncSession, contact_id: uuid.UUID) -> Contact | None:
    return await session.get(Contact, contact_id)


async def list_for_partner(session: AsyncSession, partner_id: uuid.UUID) -> Sequence[Contact]:
    query = select(Contact).where(Contact.partner_id == partner_id).order_by(Contact.last_name, Contact.id)
    return (await session.scalars(query)).all()


async def journal_entries_by(session: AsyncSession, contact_id: uuid.UUID) -> Sequence[JournalEntry]:
    query = (
        select(JournalEntry)
        .where(JournalEntry.actor_kind == "contact", JournalEntry.actor_id == str(contact_id))
        .order_by(JournalEntry.id)
    )
    return (await session.scalars(query)).all()
