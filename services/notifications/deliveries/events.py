"""The service's events about a reminder's delivery (shared/events/notifications.py), built from a delivery's ids
and the reminder event it keeps: never an address, never the server's own words (a stable reason code instead).

Only reminders have them: a digest's outcome is told once per reminder it carries, and a failure report (a mail
to the city about another delivery) has none. A webhook delivery of a reminder event is told too (channel
"webhook", no contact: an endpoint is not a person)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from shared.events.notifications import DeliveryBounced, DeliveryFailed, DeliverySent

__all__ = ["DeliveryBounced", "DeliveryFailed", "DeliverySent", "ReminderDelivery"]

EMAIL = "email"

# Reasons (shared.events.notifications.REASONS) of the outcomes the sender records.
WEBHOOK = "webhook"

SMTP_REFUSED = "smtp-refused"
SMTP_GAVE_UP = "smtp-gave-up"
NO_RECIPIENT = "no-recipient"
INVALID_ADDRESS = "invalid-address"
WEBHOOK_REFUSED = "webhook-refused"
WEBHOOK_UNREACHABLE = "webhook-unreachable"


@dataclass(frozen=True)
class ReminderDelivery:
    """What an event about one delivery of one reminder says: the delivery's ids and its reminder's keys."""

    delivery_id: uuid.UUID
    event: dict[str, Any] | None  # the reminder's event envelope, as the delivery row keeps it
    partner_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    attempt: int
    channel: str = EMAIL

    def _fields(self) -> dict[str, Any] | None:
        data = (self.event or {}).get("data") or {}
        if "reminder_key" not in data:
            return None  # not a reminder
        return {
            "delivery_id": self.delivery_id,
            "reminder_key": data["reminder_key"],
            "item_id": data["item_id"],
            "plan_id": data["plan_id"],
            "deadline_id": data.get("deadline_id"),
            "partner_id": self.partner_id,
            "contact_id": self.contact_id,
            "channel": self.channel,
            "attempt": self.attempt,
        }

    def sent(self) -> DeliverySent | None:
        fields = self._fields()
        return None if fields is None else DeliverySent(**fields, reason=None)

    def failed(self, reason: str, permanent: bool) -> DeliveryFailed | None:
        fields = self._fields()
        return None if fields is None else DeliveryFailed(**fields, reason=reason, permanent=permanent)

    def bounced(self, reason: str) -> DeliveryBounced | None:
        fields = self._fields()
        return None if fields is None else DeliveryBounced(**fields, reason=reason)
