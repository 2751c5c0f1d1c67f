from __future__ import annotations

from sqlalchemy import Index

from services.notifications.database import Base
from shared.outbox.models import OutboxColumns


class OutboxMessage(OutboxColumns, Base):
    """An event waiting to be published, written in the same transaction as the change it reports (the
    columns: shared/outbox/models.py)."""

    __tablename__ = "notifications_outbox"
    __table_args__ = (Index("ix_notifications_outbox_unpublished", "published_at", "position"),)
