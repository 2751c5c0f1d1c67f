from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.commitments.database import Base, IdMixin


class Plan(IdMixin, Base):
    """An action plan adopted by the city for a neighbourhood."""

    __tablename__ = "plans"

    title: Mapped[str] = mapped_column(String(300))
    commune: Mapped[str] = mapped_column(String(200))
    territory: Mapped[str | None] = mapped_column(String(200))
    adopted_on: Mapped[date | None]
    # The elected official (or cabinet) in charge, told when an item of the plan is very late.
    elected_contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[datetime]


class Axis(IdMixin, Base):
    __tablename__ = "axes"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(500))
    position: Mapped[int]


class Objective(IdMixin, Base):
    __tablename__ = "objectives"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    axis_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("axes.id", ondelete="CASCADE"), index=True)
    letter: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(500))
    context: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int]


class PlanImport(IdMixin, Base):
    """A text imported into a plan, known by its fingerprint: a text belongs to one plan, and importing it
    again into that plan changes nothing."""

    __tablename__ = "plan_imports"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    # SHA-256 (hex) of the text with its layout normalised (plans/fingerprint.py).
    text_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    imported_at: Mapped[datetime]
