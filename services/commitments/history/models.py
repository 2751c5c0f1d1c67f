from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from services.commitments.database import Base, IdMixin


class AuditEntry(IdMixin, Base):
    """One change to one object: who, when, what (field: [before, after])."""

    __tablename__ = "audit_entries"

    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID] = mapped_column(index=True)
    item_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(40))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
