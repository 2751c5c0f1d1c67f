"""The read model's tables. Everything here is a copy of what the events said: ids, statuses, dates and
public titles, never personal data. Every value derives from the events alone (no clock, no machine state),
so that a replay of the streams into a fresh database gives the same rows."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from services.reporting.database import Base


class ProcessedEvent(Base):
    """An event applied once: the idempotency key of the projection."""

    __tablename__ = "processed_events"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    stream: Mapped[str] = mapped_column(String(64))
    stream_seq: Mapped[int] = mapped_column(BigInteger)


class StreamPosition(Base):
    """The last stream sequence applied, per stream: a batch older than it is already in the tables."""

    __tablename__ = "stream_positions"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class Partner(Base):
    __tablename__ = "partners"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(64))
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)


class PartnerMember(Base):
    """A partner belonging to a group (« les bailleurs sociaux »)."""

    __tablename__ = "partner_members"

    group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    commune: Mapped[str] = mapped_column(String(200))


class Axis(Base):
    __tablename__ = "axes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(index=True)
    number: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    position: Mapped[int]


class Objective(Base):
    __tablename__ = "objectives"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    axis_id: Mapped[uuid.UUID] = mapped_column(index=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(index=True)
    letter: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    position: Mapped[int]


class Item(Base):
    """A request to a partner or a commitment of the city, with the dates of its steps (Europe/Paris dates
    stated in the events). `waiting_on` says whose move it is: "partner", "city", or "none" once finished."""

    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_lead_requested", "lead_partner_id", "requested_on"),
        Index("ix_items_lead_answered", "lead_partner_id", "answered_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(index=True)
    objective_id: Mapped[uuid.UUID] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(32))
    waiting_on: Mapped[str] = mapped_column(String(16))
    lead_partner_id: Mapped[uuid.UUID | None]
    # The city agent in charge (a contact's id; no name): whose calendar feed the item's deadlines go to.
    owner_contact_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    progress_percent: Mapped[int | None]
    created_on: Mapped[date]
    status_changed_on: Mapped[date]
    # First sending of the request, first acknowledgement, first answer (accepted, partially accepted or
    # declined); last declared delivery (or commitment done), verification.
    requested_on: Mapped[date | None]
    acknowledged_on: Mapped[date | None]
    answered_on: Mapped[date | None]
    delivered_on: Mapped[date | None]
    verified_on: Mapped[date | None]
    # Working days from the request to its first answer, and whether that answer came by the response
    # deadline in force on that day (None without a response deadline), worked out when the answer came.
    response_delay_working_days: Mapped[int | None]
    answered_by_deadline: Mapped[bool | None]


class ItemPartner(Base):
    """A partner named on an item: its lead, or associated with it."""

    __tablename__ = "item_partners"

    item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    relation: Mapped[str] = mapped_column(String(16))  # lead | associated


class Deadline(Base):
    """A response, delivery or milestone date: the first date set, the one in force, and when it was met."""

    __tablename__ = "deadlines"
    __table_args__ = (
        Index("ix_deadlines_open_due", "met_on", "removed", "due_on"),
        # The open dates of one item, by date (a partner's late requests, an item's next date): a few index
        # entries per item where the query would otherwise read every open deadline of the table.
        Index(
            "ix_deadlines_open_item",
            "item_id",
            "due_on",
            postgresql_where=text("met_on IS NULL AND removed IS false"),
            sqlite_where=text("met_on IS NULL AND removed IS 0"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(16))
    original_due_on: Mapped[date]
    due_on: Mapped[date]
    version: Mapped[int]
    met_on: Mapped[date | None]
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class Delivery(Base):
    """One reminder delivery of the notifications service (to one contact, by one channel), and what became
    of it. Its events may come in any order with those of the commitments stream: each column only grows
    (first date sent, a permanent failure, a bounce, the highest attempt)."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_partner_sent", "partner_id", "sent_on"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reminder_key: Mapped[str] = mapped_column(String(200), index=True)
    item_id: Mapped[uuid.UUID] = mapped_column(index=True)
    partner_id: Mapped[uuid.UUID | None]
    channel: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    sent_on: Mapped[date | None]
    failed_on: Mapped[date | None]  # a permanent failure: the address or the target refused
    bounced_on: Mapped[date | None]
    # The Paris date of the first event about it: what the period of a scorecard counts by.
    first_seen_on: Mapped[date]


class TimelineEntry(Base):
    """One event about an item, as its history shows it."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_item_time", "item_id", "occurred_at"),)

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    item_id: Mapped[uuid.UUID]
    occurred_at: Mapped[datetime]
    # Where the event sits in its stream: events of one instant (one transaction) keep their order.
    stream: Mapped[str] = mapped_column(String(64))
    stream_seq: Mapped[int] = mapped_column(BigInteger)
    on: Mapped[date | None]
    type: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
