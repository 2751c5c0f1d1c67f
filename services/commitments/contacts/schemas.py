from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from shared.input_types import BoundedDate, Email, InputModel, Name, SingleLine


class ContactRole(StrEnum):
    LIAISON = "liaison"
    DEPUTY = "deputy"
    HIERARCHY = "hierarchy"
    STAFF = "staff"
    ELECTED = "elected"


class Civility(StrEnum):
    MADAME = "Madame"
    MONSIEUR = "Monsieur"


Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 .()-]{6,30}$")]

_EXAMPLE: dict[str, Any] = {
    "civility": "Madame",
    "first_name": "Claire",
    "last_name": "Martin",
    "title": "Directrice territoriale",
    "email": "claire.martin@example.org",
    "role": "liaison",
    "active_from": "2026-01-01",
}


class ContactCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    civility: Civility | None = None
    first_name: Name | None = None
    last_name: Name
    title: SingleLine | None = None
    email: Email | None = None
    phone: Phone | None = None
    role: ContactRole = ContactRole.LIAISON
    active_from: BoundedDate | None = None
    active_to: BoundedDate | None = None


class ContactUpdate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "deputy", "active_to": "2026-12-31"}]})

    civility: Civility | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    title: SingleLine | None = None
    email: Email | None = None
    phone: Phone | None = None
    role: ContactRole | None = None
    active_from: BoundedDate | None = None
    active_to: BoundedDate | None = None


class ContactRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [{**_EXAMPLE, "id": "01a214bb-8702-7000-abee-62cd37c4247d"}]},
    )

    id: uuid.UUID
    partner_id: uuid.UUID
    civility: str | None
    first_name: str | None
    last_name: str
    title: str | None
    email: str | None
    phone: str | None
    role: ContactRole
    active_from: date | None
    active_to: date | None
    erased_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ContactExport(BaseModel):
    """Everything held about a person (right of access, RGPD art. 15)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contact": {
                        **_EXAMPLE,
                        "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                        "partner_id": "01a214bb-8702-7000-abee-62cd37c4247e",
                        "phone": None,
                        "active_to": None,
                        "erased_at": None,
                        "created_at": "2026-03-02T09:00:00Z",
                        "updated_at": "2026-03-02T09:00:00Z",
                    },
                    "history": [
                        {
                            "at": "2026-03-02T09:00:00Z",
                            "action": "created",
                            "changes": {"last_name": "Martin"},
                        }
                    ],
                    "journal_entries": [],
                }
            ]
        }
    )

    contact: ContactRead
    history: list[dict[str, Any]]
    journal_entries: list[dict[str, Any]]
