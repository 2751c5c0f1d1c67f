from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.input_types import BoundedDate, InputModel, MultiLine, Percent, SingleLine, Url


class JournalEntryCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"kind": "progress", "text": "Ravalement du bâtiment B terminé.", "occurred_on": "2026-05-12",
         "progress_percent": 40, "evidence_url": "https://example.org/cr-chantier.pdf"}]})

    kind: Literal["response", "progress", "note"]
    text: MultiLine
    occurred_on: BoundedDate | None = None
    progress_percent: Percent | None = None
    evidence_url: Url | None = None
    author_name: SingleLine | None = None


class JournalEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{"id": "01a214bb-8702-7000-abee-62cd37c4247d", "item_id": "01a214bb-8702-7000-abee-62cd37c4247e", "kind": "progress", "text": "Ravalement du bâtiment B terminé.", "occurred_on": "2026-05-12", "progress_percent": 40, "evidence_url": "https://example.org/cr-chantier.pdf", "author_name": None, "actor_kind": "api_key", "created_at": "2026-03-02T09:00:00Z"}]})

    id: uuid.UUID
    item_id: uuid.UUID
    kind: str
    text: str
    occurred_on: date
    progress_percent: int | None
    evidence_url: str | None
    author_name: str | None
    actor_kind: str
    created_at: datetime
