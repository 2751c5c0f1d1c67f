from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.webhooks.models import (
    PING_EVENT,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from shared.db import insert_ignoring_conflicts


async def get(session: AsyncSession, subscription_id: uuid.UUID) -> WebhookSubscription | None:
    return await session.get(WebhookSubscription, subscription_id)


async def list_all(session: AsyncSession) -> Sequence[WebhookSubscription]:
    return (await session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))).all()


async def list_enabled(session: AsyncSession) -> Sequence[WebhookSubscription]:
    query = select(WebhookSubscription).where(WebhookSubscription.enabled.is_(True))
    return (await session.scalars(query.order_by(WebhookSubscription.id))).all()


async def insert_delivery_once(session: AsyncSession, values: dict[str, object]) -> bool:
    """Insert a delivery unless one exists for its (subscription, event); True when this call inserted it."""
    # ON CONFLICT DO NOTHING rather than a check then an insert: two consumers handling the same redelivered
    # message at once must not both insert, nor fail the whole transaction on the unique key.
    statement = insert_ignoring_conflicts(session, WebhookDelivery, "subscription_id", "event_id").values(
        **values
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]  # an INSERT's result is a CursorResult


async def claim_due(
    session: AsyncSession, now: datetime, limit: int
) -> Sequence[tuple[WebhookDelivery, WebhookSubscription]]:
    """The pending deliveries due by `now`, oldest first, locked against other dispatchers on PostgreSQL."""
    query = (
        select(WebhookDelivery, WebhookSubscription)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            # A test request goes out even to a disabled subscription: that is how one checks a fix.
            or_(WebhookSubscription.enabled.is_(True), WebhookDelivery.event_type == PING_EVENT),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    return [(delivery, subscription) for delivery, subscription in (await session.execute(query)).all()]


async def fail_pending(session: AsyncSession, subscription_id: uuid.UUID, reason: str, now: datetime) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.status == "pending")
        .values(status="failed", last_error=reason, next_attempt_at=None, completed_at=now)
    )


async def deliveries_page(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    status: str | None,
    before: uuid.UUID | None,
    limit: int,
) -> Sequence[WebhookDelivery]:
    """Newest first (ids are time-ordered), the page after the delivery `before`."""
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return (await session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit))).all()


async def attempts_of(session: AsyncSession, delivery_ids: Sequence[uuid.UUID]) -> Sequence[WebhookAttempt]:
    if not delivery_ids:
        return []
    query = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
    )
    return (await session.scalars(query)).all()
