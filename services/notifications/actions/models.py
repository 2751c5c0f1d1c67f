"""Action links already used (or being used): a token id is recorded here once, so a link serves once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from services.notifications.database import Base


class ActionLinkUse(Base):
    __tablename__ = "action_link_uses"

    # The random id inside the signed token: one row per link, ever.
    token_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[uuid.UUID]
    contact_id: Mapped[uuid.UUID]
    # Claimed while the commitments service is being called; used_at set once it accepted the action. A claim
    # left by a crash is taken over after a lease (the call is idempotent, so repeating it does no harm).
    claimed_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(500))
