from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class CalendarFeedCreate(BaseModel):
    partner_id: uuid.UUID = Field(description="Partenaire dont le calendrier montre les échéances.")
    label: str = Field(default="", max_length=200, description="Libellé libre (à qui le lien a été remis).")


class CalendarFeedRead(BaseModel):
    """A feed, without its secret."""

    id: uuid.UUID
    partner_id: uuid.UUID
    label: str
    created_at: datetime
    revoked_at: datetime | None


class CalendarFeedCreated(CalendarFeedRead):
    token: str = Field(description="Le secret du lien, montré cette seule fois (seule son empreinte est gardée).")
    url: str = Field(description="L'adresse à donner au logiciel d'agenda (abonnement), secret compris.")
