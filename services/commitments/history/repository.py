from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.history.models import AuditEntry


async def list_for_item(session: AsyncSession, item_id: uuid.UUID) -> Sequence[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(or_(AuditEntry.item_id == item_id, AuditEntry.entity_id == item_id))
        .order_by(AuditEntry.id)
    )
    return (await session.scalars(query)).all()


async def list_for_entity(
    session: AsyncSession, entity_type: str, entity_id: uuid.UUID
) -> Sequence[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.id)
    )
    return (await session.scalars(query)).all()
