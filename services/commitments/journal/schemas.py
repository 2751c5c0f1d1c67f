from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.input_types import BoundedDate, InputModel, MultiLine, Percent, Url

JournalKind = Literal["response", "progress", "note"]


class JournalEntryCreate(InputModel):
    """The author is whoever calls (the key, or the contact a service key acts for): never named in the body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "progress",
                    "text": "Ravalement du bâtiment B terminé.",
                    "occurred_on": "2026-05-12",
                    "progress_percent": 40,
                    "evidence_url": "https://example.org/cr-chantier.pdf",
                }
            ]
        }
    )

    kind: JournalKind = Field(
        description=(
            "response : réponse du partenaire sollicité ; progress : point d'avancement (avec progress_percent, il "
            "fixe l'avancement de l'élément) ; note : remarque, ouverte aussi aux partenaires associés."
        )
    )
    text: MultiLine
    occurred_on: BoundedDate | None = Field(
        default=None,
        description=(
            "Date des faits (par défaut : aujourd'hui) ; jamais dans le futur, ni, pour une réponse, avant l'envoi."
        ),
    )
    progress_percent: Percent | None = None
    evidence_url: Url | None = None


class JournalAuthor(BaseModel):
    """Who wrote an entry, from the authenticated caller. A partner reading the journal sees the names of its
    own organisation's authors only; others appear by kind and role."""

    kind: Literal["api_key", "contact", "system"]
    id: uuid.UUID | None = Field(description="La clé d'API ou le contact.")
    role: str | None = Field(description="Rôle de la clé (pour un contact : partner).")
    name: str | None = Field(description="Nom de la clé, ou du contact (effacé s'il a été effacé).")
    partner_id: uuid.UUID | None = Field(description="Le partenaire de la clé ou du contact.")


class JournalEntryRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "item_id": "01a214bb-8702-7000-abee-62cd37c4247e",
                    "kind": "progress",
                    "text": "Ravalement du bâtiment B terminé.",
                    "occurred_on": "2026-05-12",
                    "progress_percent": 40,
                    "evidence_url": "https://example.org/cr-chantier.pdf",
                    "author_name": "Hauts-de-Seine Habitat — liaison",
                    "actor_kind": "api_key",
                    "author": {
                        "kind": "api_key",
                        "id": "01a214bb-8702-7000-abee-62cd37c4247f",
                        "role": "partner",
                        "name": "Hauts-de-Seine Habitat — liaison",
                        "partner_id": "01a214bb-8702-7000-abee-62cd37c4247a",
                    },
                    "created_at": "2026-03-02T09:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    item_id: uuid.UUID
    kind: str
    text: str
    occurred_on: date
    progress_percent: int | None
    evidence_url: str | None
    author_name: str | None = Field(description="author.name, repris ici.")
    actor_kind: str
    author: JournalAuthor
    created_at: datetime
