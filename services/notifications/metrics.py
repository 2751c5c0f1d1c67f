"""The notifications service's own metrics (the generic ones, requests, outbox and consumers, are in
shared/metrics.py); names and meanings in docs/operations.md."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter

from shared.events import EventData
from shared.events.notifications import DeliveryBounced, DeliveryFailed, DeliverySent

REMINDERS_SENT = Counter(
    "engagements_reminders_sent",
    "Reminders accepted by the mail server (or the webhook endpoint), by channel; a "
    "digest counts each reminder it carries.",
    ["channel"],
)
REMINDERS_FAILED = Counter(
    "engagements_reminders_failed",
    "Reminders that reached nobody, by channel and reason (smtp-refused, smtp-gave-up, invalid-address, "
    "no-recipient, webhook-refused, webhook-unreachable).",
    ["channel", "reason"],
)
REMINDERS_BOUNCED = Counter(
    "engagements_reminders_bounced",
    "Reminders returned by the recipient's server after being accepted (a "
    "delivery status notification), by reason (invalid-address, mailbox-unavailable, message-refused, bounced).",
    ["reason"],
)
WEBHOOK_ATTEMPTS = Counter(
    "engagements_webhook_attempts", "Webhook POSTs made (each attempt of each delivery)."
)
WEBHOOK_FAILURES = Counter(
    "engagements_webhook_failures",
    "Webhook POSTs that failed: an answer other than 2xx, a timeout, a refused or unreachable target.",
)
WEBHOOK_DELIVERIES_FAILED = Counter(
    "engagements_webhook_deliveries_failed",
    "Webhook deliveries given up (retries exhausted, or 410 Gone): the endpoint never got the event.",
)


def count_reminder_events(events: Iterable[EventData]) -> None:
    """Count what committed outcome events say (called after the commit, never before)."""
    for event in events:
        if isinstance(event, DeliverySent):
            REMINDERS_SENT.labels(event.channel).inc()
        elif isinstance(event, DeliveryFailed):
            REMINDERS_FAILED.labels(event.channel, event.reason or "unknown").inc()
        elif isinstance(event, DeliveryBounced):
            REMINDERS_BOUNCED.labels((event.reason or "bounced").split(":")[0]).inc()
