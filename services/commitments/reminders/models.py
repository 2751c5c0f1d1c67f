from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.commitments.database import Base, IdMixin


class ReminderRuleSet(IdMixin, Base):
    """Overrides of the default reminder rules for one plan, one partner or one item (exactly one is set)."""

    __tablename__ = "reminder_rules"

    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), unique=True)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), unique=True
    )
    item_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    # Only the fields this level overrides; the rest is inherited (see rules.merge).
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class ReminderSchedule(Base):
    """The armed reminder schedule of one open deadline: which version and arming it follows, how far it has
    been handled, and when the scanner must next look at it (NULL: nothing left to send)."""

    __tablename__ = "reminder_schedules"

    deadline_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deadlines.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    deadline_version: Mapped[int]
    # Bumped when the partner responds to an overdue deadline: escalation starts again from `anchor_on`.
    arming: Mapped[int] = mapped_column(default=0)
    anchor_on: Mapped[date | None]
    armed_at: Mapped[datetime]
    # Every step whose instant is at or before this one was sent or deliberately skipped in this arming.
    handled_until: Mapped[datetime]
    # The escalation level last announced in this arming (a higher one makes the next event an escalation).
    escalation: Mapped[str] = mapped_column(String(16), default="none")
    next_fire_at: Mapped[datetime | None]
    # The W3C trace context (traceparent, tracestate) of the request that dated the deadline: the scanner records
    # each reminder event under it, so that a reminder's mail is in the same trace as that request.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSON)

    # The scanner's only access path: the due rows, oldest first; its cost follows the due rows, not the table.
    __table_args__ = (Index("ix_reminder_schedules_next_fire_at", "next_fire_at"),)


class ReminderFiring(IdMixin, Base):
    """One reminder sent: its key is unique, so a step of an armed deadline version fires once, whatever the
    number of scanners and crashes."""

    __tablename__ = "reminder_firings"

    reminder_key: Mapped[str] = mapped_column(String(120), unique=True)
    deadline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deadlines.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    deadline_version: Mapped[int]
    arming: Mapped[int]
    step: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str] = mapped_column(String(40))
    escalation: Mapped[str] = mapped_column(String(16))
    fire_at: Mapped[datetime]
    fired_at: Mapped[datetime]
    # Earlier steps missed while no scanner ran, superseded by this one (catch-up sends only the latest).
    skipped_steps: Mapped[int] = mapped_column(default=0)
