from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.commitments.database import Base, IdMixin


class Item(IdMixin, Base):
    """A request to partners or a commitment of the city, with the plan's own wording."""

    __tablename__ = "items"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), index=True)
    axis_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("axes.id"), index=True)
    objective_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("objectives.id"), index=True)
    position: Mapped[int]
    source_key: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    plan_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24), index=True)
    owner_contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contacts.id"))
    # The elected official (or cabinet) told when the item is very late; the plan's when not set here.
    elected_contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contacts.id"))
    budget: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)
    # What the import found to check, [{"code", "message"}] (codes in docs/plan-import.md).
    review_flags: Mapped[list[dict[str, str]]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    sent_on: Mapped[date | None]
    letter_reference: Mapped[str | None] = mapped_column(String(200))
    progress_percent: Mapped[int | None]
    status_changed_on: Mapped[date | None]
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once, mapping the class
    __table_args__ = (Index("ix_items_plan_source_key", "plan_id", "source_key", unique=True),)


class ItemPartner(Base):
    """A partner concerned by an item: the lead (the one asked) or an associated partner."""

    __tablename__ = "item_partners"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))

    # Partner-scoped listing walks this index, never the whole items table.
    __table_args__ = (Index("ix_item_partners_partner_item", "partner_id", "item_id"),)


class ItemTag(Base):
    __tablename__ = "item_tags"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(120), primary_key=True, index=True)


class ItemContact(Base):
    """The person a partner designated for one item ("pas pour moi" → a colleague): reminders about this
    item go to them instead of the partner's usual liaison and deputy."""

    __tablename__ = "item_contacts"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contacts.id"))
    assigned_at: Mapped[datetime]
