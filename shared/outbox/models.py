"""The columns of an outbox table; each service declares its own table with them (and its own Base)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class OutboxColumns:
    """An event waiting to be published, written in the same transaction as the change it reports.

    A service's table: `class OutboxMessage(OutboxColumns, Base)` with its `__tablename__` and an index on
    (published_at, position), the relay's query."""

    # BigInteger on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite: both increase with each insert.
    position: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    event_type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
