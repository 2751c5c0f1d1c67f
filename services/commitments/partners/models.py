from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.commitments.database import Base, IdMixin


class Partner(IdMixin, Base):
    """An organisation the city works with, or a group of them ("les bailleurs sociaux").

    A group belongs to one plan or to one territory (every plan of that territory): "les bailleurs sociaux"
    of one neighbourhood are not those of another. An organisation belongs to no scope.
    """

    __tablename__ = "partners"

    # Unique per scope (organisations share one): partner_aliases holds the name's matching key.
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))
    is_group: Mapped[bool] = mapped_column(default=False)
    siret: Mapped[str | None] = mapped_column(String(14))
    # use_alter: plans → contacts → partners → plans is a cycle; the plan is only ever a group's home.
    scope_plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL", use_alter=True), index=True
    )
    scope_territory: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    aliases: Mapped[list[PartnerAlias]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="PartnerAlias.alias"
    )

    __table_args__ = (
        CheckConstraint(
            "is_group OR (scope_plan_id IS NULL AND scope_territory IS NULL)", name="organisation_unscoped"
        ),
        CheckConstraint("scope_plan_id IS NULL OR scope_territory IS NULL", name="one_scope"),
    )


class PartnerAlias(IdMixin, Base):
    __tablename__ = "partner_aliases"

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(300))
    # Lower-cased, accent-free form: the key name resolution matches on.
    normalized: Mapped[str] = mapped_column(String(300))
    # Where the key is unique: "" for organisations, "plan:<id>" or "territory:<key>" for a group
    # (services/commitments/partners/scopes.py); the service also keeps an organisation's keys apart from
    # every group's.
    scope_key: Mapped[str] = mapped_column(String(320), default="", server_default="")

    __table_args__ = (
        UniqueConstraint("scope_key", "normalized", name="uq_partner_aliases_scope_key_normalized"),
    )


class GroupMembership(Base):
    """A partner belonging to a group: a request to the group concerns each member."""

    __tablename__ = "partner_group_members"

    group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True, index=True
    )
