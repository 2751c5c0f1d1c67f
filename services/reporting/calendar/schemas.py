from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class CalendarFeedCreate(BaseModel):
    """Exactly one of `partner_id` and `owner_contact_id`."""

    partner_id: uuid.UUID | None = Field(
        default=None,
        description="Partenaire dont le calendrier montre les "
        "échéances (ce qu'une clé de ce partenaire voit).",
    )
    owner_contact_id: uuid.UUID | None = Field(
        default=None,
        description="Agent de la ville responsable : les échéances des éléments dont il a la charge.",
    )
    label: str = Field(default="", max_length=200, description="Libellé libre (à qui le lien a été remis).")


class CalendarFeedRead(BaseModel):
    """A feed, without its secret."""

    id: uuid.UUID
    partner_id: uuid.UUID | None
    owner_contact_id: uuid.UUID | None
    label: str
    created_at: datetime
    revoked_at: datetime | None


class CalendarFeedCreated(CalendarFeedRead):
    token: str = Field(
        description="Le secret du lien, montré cette seule fois (seule son empreinte est gardée)."
    )
    url: str = Field(description="L'adresse à donner au logiciel d'agenda (abonnement), secret compris.")
