from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.journal.models import JournalEntry


async def list_for_item(session: AsyncSession, item_id: uuid.UUID) -> Sequence[JournalEntry]:
    query = select(JournalEntry).where(JournalEntry.item_id == item_id).order_by(JournalEntry.occurred_on,
                                                                                 JournalEntry.id)
    return (await session.scalars(query)).all()
