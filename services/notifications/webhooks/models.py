from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.notifications.database import Base, IdMixin

# Subscriptions that name this type receive every event.
ALL_EVENTS = "*"
# The event type of a test request (POST /v1/webhooks/{id}/test): not on the bus, never subscribed to.
PING_EVENT = "webhook.ping"


class WebhookSubscription(IdMixin, Base):
    """An intranet endpoint that receives the events it names, signed with its own secret."""

    __tablename__ = "webhook_subscriptions"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(300))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    # Kept in clear: signing needs it. Shown once at creation (and at rotation), never listed.
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation the old secret still signs (a second signature) until it expires, so the receiver can
    # switch without refusing requests in between: Standard Webhooks allows several signatures per request.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    # Deliveries that failed for good in a row (any success resets it); the subscription is disabled at a limit.
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(IdMixin, Base):
    """One event to send to one subscription, with its retry state; at most one per (subscription, event)."""

    __tablename__ = "webhook_deliveries"

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(80))
    # The exact body sent: every retry signs and sends the same bytes.
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | succeeded | failed
    attempts: Mapped[int] = mapped_column(default=0)
    # When the dispatcher may (re)try it; pushed ahead by a lease while an attempt is in flight.
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    # The W3C trace context (traceparent, tracestate) it was queued under: each POST carries on that trace.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_subscription_event"),
        # The dispatcher's claim: pending deliveries by due time, cost independent of the history kept.
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )


class WebhookAttempt(IdMixin, Base):
    """One POST of a delivery: what the endpoint answered, or why there was no answer."""

    __tablename__ = "webhook_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int | None]
