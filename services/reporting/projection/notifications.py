"""What the notifications stream says about each reminder, applied to the read model: `delivery.sent`,
`delivery.failed`, `delivery.bounced` (one delivery = one reminder to one contact by one channel) and
`action_link.used` (a partner acted through a signed link).

These events may interleave in any way with those of the commitments stream (live, each stream is consumed on
its own; a rebuild replays one stream after the other): each handler only writes what commutes with the other
stream's (a delivery's columns only grow, a timeline entry is keyed by its event).

The payloads are the contract of shared/events/notifications.py (docs/events.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from services.reporting.projection.batch import Batch
from services.reporting.projection.commitments import paris_date
from services.reporting.projection.models import Delivery
from shared.events import EventEnvelope
from shared.events.notifications import ActionLinkUsed, DeliveryBounced, DeliveryFailed, DeliverySent


def _earliest(current: date | None, new: date) -> date:
    return new if current is None or new < current else current


async def _delivery(batch: Batch, envelope: EventEnvelope) -> None:
    outcome = envelope.parsed()
    assert isinstance(outcome, DeliverySent | DeliveryFailed | DeliveryBounced)
    on = paris_date(envelope.occurred_at)
    row = batch.get(Delivery, outcome.delivery_id)
    if row is None:
        row = batch.add(
            Delivery,
            {
                "id": outcome.delivery_id,
                "reminder_key": outcome.reminder_key,
                "item_id": outcome.item_id,
                "partner_id": outcome.partner_id,
                "channel": outcome.channel,
                "attempts": outcome.attempt,
                "sent_on": None,
                "failed_on": None,
                "bounced_on": None,
                "first_seen_on": on,
            },
        )
    else:
        row["attempts"] = max(row["attempts"], outcome.attempt)
        row["first_seen_on"] = _earliest(row["first_seen_on"], on)
    if envelope.type == "delivery.sent":
        row["sent_on"] = _earliest(row["sent_on"], on)
    elif envelope.type == "delivery.bounced":
        row["bounced_on"] = _earliest(row["bounced_on"], on)
    elif isinstance(outcome, DeliveryFailed) and outcome.permanent:  # a temporary failure says nothing yet
        row["failed_on"] = _earliest(row["failed_on"], on)
    details = {
        "delivery_id": str(outcome.delivery_id),
        "channel": outcome.channel,
        "attempt": outcome.attempt,
        "partner_id": outcome.partner_id and str(outcome.partner_id),
    }
    if envelope.type != "delivery.sent":
        permanent = outcome.permanent if isinstance(outcome, DeliveryFailed) else True  # a bounce is final
        details |= {"reason": outcome.reason, "permanent": permanent}
    batch.add_timeline_entry(envelope, outcome.item_id, on, details)


async def _action_link_used(batch: Batch, envelope: EventEnvelope) -> None:
    used = envelope.parsed()
    assert isinstance(used, ActionLinkUsed)
    batch.add_timeline_entry(
        envelope,
        used.item_id,
        paris_date(envelope.occurred_at),
        {"action": used.action, "partner_id": used.partner_id and str(used.partner_id)},
    )


HANDLERS: dict[str, Callable[[Batch, EventEnvelope], Awaitable[None]]] = {
    "delivery.sent": _delivery,
    "delivery.failed": _delivery,
    "delivery.bounced": _delivery,
    "action_link.used": _action_link_used,
}


async def apply(batch: Batch, envelope: EventEnvelope) -> None:
    """Apply one event of the notifications stream (any other type is only recorded as seen)."""
    handler = HANDLERS.get(envelope.type)
    if handler is not None:
        await handler(batch, envelope)
