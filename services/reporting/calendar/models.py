"""A calendar feed: whose deadlines it shows, and the SHA-256 of its secret (the secret itself is shown once,
at creation).
Not a copy of any event: feeds are the reporting service's own data, which a rebuild does not recreate."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from services.reporting.database import Base


class CalendarFeed(Base):
    __tablename__ = "calendar_feeds"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # Whose deadlines: a partner's (what a key of that partner sees), or a city owner's (the items whose city
    # agent in charge is that contact). Exactly one of the two.
    partner_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    owner_contact_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    created_by_key_id: Mapped[uuid.UUID | None]
    revoked_at: Mapped[datetime | None]
