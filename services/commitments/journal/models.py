from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.commitments.database import Base, IdMixin


class JournalEntry(IdMixin, Base):
    """A partner response, a progress update or a note on an item."""

    __tablename__ = "journal_entries"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[date]
    progress_percent: Mapped[int | None]
    evidence_url: Mapped[str | None] = mapped_column(String(2000))
    author_name: Mapped[str | None] = mapped_column(String(300))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
