"""What the notifications stream says about each reminder, applied to the read model: `delivery.sent`,
`delivery.failed`, `delivery.bounced` (one delivery = one reminder to one contact by one channel) and
`action_link.used` (a partner acted through a signed link).

These events may interleave in any way with those of the commitments stream (live, each stream is consumed on
its own; a rebuild replays one stream after the other): each handler only writes what commutes with the other
stream's (a delivery's columns only grow, a timeline entry is keyed by its event).

The payloads are read with the models below, the contract of docs/events.md for the notifications stream; the
reader ignores fields it does not know (a newer version adding some)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.projection.commitments import add_timeline_entry, paris_date
from services.reporting.projection.models import Delivery
from shared.events import EventEnvelope


class DeliveryOutcome(BaseModel):
    """The data of delivery.sent, delivery.failed and delivery.bounced."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    delivery_id: uuid.UUID
    reminder_key: str
    item_id: uuid.UUID
    plan_id: uuid.UUID
    deadline_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    channel: Literal["email", "webhook"]
    attempt: int = 1
    reason: str | None = None
    permanent: bool = False


class ActionLinkUsed(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    item_id: uuid.UUID
    deadline_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    action: str


def _earliest(current: date | None, new: date) -> date:
    return new if current is None or new < current else current


async def _delivery(session: AsyncSession, envelope: EventEnvelope) -> None:
    outcome = DeliveryOutcome.model_validate(envelope.data)
    on = paris_date(envelope.occurred_at)
    row = await session.get(Delivery, outcome.delivery_id)
    if row is None:
        row = Delivery(id=outcome.delivery_id, reminder_key=outcome.reminder_key, item_id=outcome.item_id,
                       partner_id=outcome.partner_id, channel=outcome.channel, attempts=outcome.attempt,
                       sent_on=None, failed_on=None, bounced_on=None, first_seen_on=on)
        session.add(row)
    else:
        row.attempts = max(row.attempts, outcome.attempt)
        row.first_seen_on = _earliest(row.first_seen_on, on)
    if envelope.type == "delivery.sent":
        row.sent_on = _earliest(row.sent_on, on)
    elif envelope.type == "delivery.bounced":
        row.bounced_on = _earliest(row.bounced_on, on)
    elif outcome.permanent:  # delivery.failed: a temporary failure is retried, and says nothing yet
        row.failed_on = _earliest(row.failed_on, on)
    details = {"delivery_id": str(outcome.delivery_id), "channel": outcome.channel, "attempt": outcome.attempt,
               "partner_id": outcome.partner_id and str(outcome.partner_id)}
    if envelope.type != "delivery.sent":
        details |= {"reason": outcome.reason, "permanent": outcome.permanent or envelope.type == "delivery.bounced"}
    add_timeline_entry(session, envelope, outcome.item_id, on, details)


async def _action_link_used(session: AsyncSession, envelope: EventEnvelope) -> None:
    used = ActionLinkUsed.model_validate(envelope.data)
    add_timeline_entry(session, envelope, used.item_id, paris_date(envelope.occurred_at),
                       {"action": used.action, "partner_id": used.partner_id and str(used.partner_id)})


HANDLERS: dict[str, Callable[[AsyncSession, EventEnvelope], Awaitable[None]]] = {
    "delivery.sent": _delivery,
    "delivery.failed": _delivery,
    "delivery.bounced": _delivery,
    "action_link.used": _action_link_used,
}


async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Apply one event of the notifications stream (any other type is only recorded as seen)."""
    handler = HANDLERS.get(envelope.type)
    if handler is not None:
        await handler(session, envelope)
