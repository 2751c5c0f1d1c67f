from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.commitments.database import Base


class IdempotencyRecord(Base):
    """The outcome of a POST sent with an Idempotency-Key, replayed when the same key comes again.

    While the request runs (`status_code` NULL, « in progress ») the record holds a lease until `locked_until`:
    a retry after it has passed (the replica that had the request was killed) takes the key over, once,
    bumping `attempt`; only the holder of the current attempt may record the answer or forget the key."""

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
    created_at: Mapped[datetime] = mapped_column(index=True)  # the purge deletes by it
    # The end of the lease of the request in progress; NULL once answered (and for records written before
    # leases: their lease ends IDEMPOTENCY_LEASE_SECONDS after created_at).
    locked_until: Mapped[datetime | None]
    # How many times the request was started under this key (1, then one more per takeover): the fencing token.
    attempt: Mapped[int] = mapped_column(default=1, server_default="1")
