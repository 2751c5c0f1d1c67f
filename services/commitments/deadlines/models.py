from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.commitments.database import Base, IdMixin


class Deadline(IdMixin, Base):
    """A date an item must meet: the partner's response, the delivery, or a milestone."""

    __tablename__ = "deadlines"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(300))
    due_on: Mapped[date]
    # The plan's own wording of an approximate target ("dès l'automne 2021"), kept beside the date.
    original_wording: Mapped[str | None] = mapped_column(String(300))
    met_on: Mapped[date | None]
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_deadlines_open_due", "met_on", "due_on"),)


class DeadlineChange(IdMixin, Base):
    """One step of a deadline's renegotiation history: who moved it, when, from what to what, and why."""

    __tablename__ = "deadline_changes"

    deadline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deadlines.id", ondelete="CASCADE"), index=True)
    previous_due_on: Mapped[date | None]
    new_due_on: Mapped[date]
    reason: Mapped[str | None] = mapped_column(Text)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime]


class DeadlineProposal(IdMixin, Base):
    """A new date proposed by the partner, pending the city's decision."""

    __tablename__ = "deadline_proposals"

    deadline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deadlines.id", ondelete="CASCADE"), index=True)
    proposed_due_on: Mapped[date]
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    proposed_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
