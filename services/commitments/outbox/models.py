from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.commitments.database import Base


class OutboxMessage(Base):
    """An event waiting to be published, written in the same transaction as the change it reports."""

    __tablename__ = "outbox"

    # BigInteger on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite: both increase with each insert.
    position: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                          autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    event_type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "position"),)
