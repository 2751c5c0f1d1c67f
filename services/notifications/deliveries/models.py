"""One row per (event, recipient, channel): what was or will be sent to whom, and how it went."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.notifications.database import Base, IdMixin


class DeliveryStatus(StrEnum):
    PENDING = (
        "pending"  # to send at next_attempt_at (first try, retry after a 4xx, or claimed: see claimed_by)
    )
    HELD = "held"  # an "approaching" reminder waiting for the contact's weekly digest
    DIGESTED = "digested"  # went out inside a digest (digest_id)
    SENT = "sent"
    FAILED = "failed"  # 5xx, or 4xx until the retry policy gave up
    CANCELLED = "cancelled"  # nobody to send to any more (contact erased or without email, item closed)
    BOUNCED = "bounced"  # sent, then returned by the recipient's server (a delivery status notification)


class DeliveryKind(StrEnum):
    REMINDER = "reminder"
    DIGEST = "digest"
    FAILURE_REPORT = "failure_report"


class Delivery(IdMixin, Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # The idempotency key: a redelivered or duplicated event never makes a second row, so never a second mail.
        UniqueConstraint("event_id", "contact_id", "channel", name="uq_deliveries_event_contact_channel"),
        # The sender's query: due rows in order.
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    event_id: Mapped[uuid.UUID]
    contact_id: Mapped[uuid.UUID] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(16), default="email")
    kind: Mapped[str] = mapped_column(String(20))
    event_type: Mapped[str] = mapped_column(String(40))
    # The event envelope (ids and dates only): a retry re-renders from it and fresh data from the commitments
    # service, so no name or address is ever stored here.
    event: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    item_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    deadline_id: Mapped[uuid.UUID | None]
    partner_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    audience: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    # A bounce (delivery status notification) names the message it returns by this (deliveries/bounces.py).
    message_id: Mapped[str] = mapped_column(String(255), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    resend_count: Mapped[int] = mapped_column(default=0)
    # When to send; while a sender holds the row, the end of its lease.
    next_attempt_at: Mapped[datetime | None]
    # The sender worker holding the row (its identity and that identity's generation: deliveries/claims.py), NULL
    # when none does. A worker restarted after a crash takes back its own claims by these, at once.
    claimed_by: Mapped[str | None] = mapped_column(String(200), index=True)
    claim_generation: Mapped[int | None]
    # Retries after SMTP 4xx stop this long after it (RETRY_GIVE_UP_SECONDS); a resend starts a new window.
    retry_since: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    digest_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # A failure report points at the delivery that failed.
    related_delivery_id: Mapped[uuid.UUID | None]
    # The W3C trace context (traceparent, tracestate) the row was written under: its send, later and maybe in
    # another process, carries on that trace (the reminder's: from the request that dated the deadline).
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    bounced_at: Mapped[datetime | None]


class SenderWorker(Base):
    """A sender identity and how many times a process started under it: claims carry the generation, so a
    restarted worker tells its predecessor's claims from its own, and a second live process under the same
    identity is noticed (deliveries/claims.py)."""

    __tablename__ = "sender_workers"

    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    generation: Mapped[int]
    started_at: Mapped[datetime]
