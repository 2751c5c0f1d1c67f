"""Rules on deliveries: who sees which, resending, and the state changes of a send."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.auth.principal import Principal
from services.notifications.deliveries import repository
from services.notifications.deliveries.models import Delivery, DeliveryStatus
from services.notifications.deliveries.repository import DeliveryFilters
from shared.clock import Clock
from shared.problems import Conflict, NotFound


def message_id_for(delivery_id: uuid.UUID, resend_count: int, domain: str) -> str:
    """The Message-ID of a delivery, fixed before the first attempt: a crash after the SMTP server took the
    mail and before the row said so sends it again under the same Message-ID, which clients fold into one."""
    suffix = f".{resend_count}" if resend_count else ""
    return f"<{delivery_id}{suffix}@{domain}>"


async def list_page(session: AsyncSession, principal: Principal, filters: DeliveryFilters,
                    cursor: uuid.UUID | None, limit: int) -> tuple[Sequence[Delivery], str | None]:
    """A page of deliveries the caller may see, and the cursor of the next one."""
    if principal.is_partner:
        filters = DeliveryFilters(item_id=filters.item_id, partner_id=filters.partner_id, status=filters.status,
                                  visible_partner_ids=principal.visible_partner_ids)
    rows = await repository.list_page(session, filters, cursor, limit + 1)
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def get_visible(session: AsyncSession, principal: Principal, delivery_id: uuid.UUID) -> Delivery:
    """A delivery the caller may see; another partner's answers 404 like a missing one."""
    delivery = await repository.get(session, delivery_id)
    if delivery is None or not principal.may_see_partner(delivery.partner_id):
        raise NotFound("Envoi introuvable.")
    return delivery


async def resend(session: AsyncSession, clock: Clock, delivery: Delivery, domain: str) -> Delivery:
    """Send a delivery again, now, under a new Message-ID (a client would drop a second copy of the first)."""
    if delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.HELD):
        raise Conflict("Cet envoi est déjà en attente : il partira sans qu'il soit besoin de le relancer.",
                       status=delivery.status)
    now = clock.now()
    delivery.resend_count += 1
    delivery.message_id = message_id_for(delivery.id, delivery.resend_count, domain)
    delivery.status = DeliveryStatus.PENDING.value
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.last_error = None
    delivery.failed_at = None
    delivery.updated_at = now
    await session.flush()
    return delivery
