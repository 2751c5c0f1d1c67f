"""Queries on used action links."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.actions.models import ActionLinkUse
from services.notifications.deliveries.models import Delivery


async def get(session: AsyncSession, token_id: uuid.UUID, for_update: bool = False) -> ActionLinkUse | None:
    statement = select(ActionLinkUse).where(ActionLinkUse.token_id == token_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def release_claim(session: AsyncSession, token_id: uuid.UUID, claimed_at: datetime) -> None:
    # Only our own claim: a claim taken over after the lease belongs to someone else now.
    await session.execute(
        delete(ActionLinkUse).where(
            ActionLinkUse.token_id == token_id,
            ActionLinkUse.used_at.is_(None),
            ActionLinkUse.claimed_at == claimed_at,
        )
    )


async def contact_partner(
    session: AsyncSession, item_id: uuid.UUID, contact_id: uuid.UUID
) -> uuid.UUID | None:
    """The partner of the contact a link was sent to, as the latest delivery to them about the item says (the
    link itself carries no partner)."""
    statement = (
        select(Delivery.partner_id)
        .where(
            Delivery.item_id == item_id, Delivery.contact_id == contact_id, Delivery.partner_id.is_not(None)
        )
        .order_by(Delivery.id.desc())
        .limit(1)
    )
    return await session.scalar(statement)
