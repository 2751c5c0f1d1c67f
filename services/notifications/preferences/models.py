"""How each contact wants its reminders (contacts without a row get the default: immediate)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from services.notifications.database import Base


class ApproachingMode(StrEnum):
    IMMEDIATE = "immediate"
    WEEKLY_DIGEST = "weekly_digest"


class ContactPreference(Base):
    __tablename__ = "contact_preferences"

    contact_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # Only "approaching" reminders may wait for the digest: due, overdue and escalated always go at once.
    approaching: Mapped[str] = mapped_column(String(16), default=ApproachingMode.IMMEDIATE.value)
    updated_at: Mapped[datetime]
