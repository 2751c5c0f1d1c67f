from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.commitments.database import Base


class IdempotencyRecord(Base):
    """The outcome of a POST sent with an Idempotency-Key, replayed when the same key comes again."""

    __tablename__ = "idempotency_records"

    # Hash of the caller's credential: keys are scoped per caller without resolving the key first.
    caller_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2000))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    content_type: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
