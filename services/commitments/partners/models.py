from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.commitments.database import Base, IdMixin


class Partner(IdMixin, Base):
    """An organisation the city works with, or a group of them ("les bailleurs sociaux")."""

    __tablename__ = "partners"

    name: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    is_group: Mapped[bool] = mapped_column(default=False)
    siret: Mapped[str | None] = mapped_column(String(14))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    aliases: Mapped[list[PartnerAlias]] = relationship(lazy="raise", cascade="all, delete-orphan",
                                                       order_by="PartnerAlias.alias")


class PartnerAlias(IdMixin, Base):
    __tablename__ = "partner_aliases"

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(300))
    # Lower-cased, accent-free form: the key name resolution matches on, unique across the directory.
    normalized: Mapped[str] = mapped_column(String(300), unique=True)


class GroupMembership(Base):
    """A partner belonging to a group: a request to the group concerns each member."""

    __tablename__ = "partner_group_members"

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True,
                                                 index=True)
