"""Who to write to about an item, as the notifications service reads it (personal data: never in events)."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.commitments.contacts.schemas import Civility, ContactRead
from shared.input_types import Email, InputModel, Name, SingleLine


class Audience(StrEnum):
    LIAISON = "liaison"
    DEPUTY = "deputy"
    HIERARCHY = "hierarchy"
    CITY_OWNER = "city_owner"
    ELECTED = "elected"


_ITEM_EXAMPLE: dict[str, Any] = {
    "id": "01a214bb-8702-7000-abee-62cd37c4247d",
    "title": "Rénovation du centre commercial des Blagis",
    "plan_text": "La Ville demande à Hauts-de-Seine Habitat de présenter un projet de rénovation du centre "
    "commercial.",
    "kind": "request",
    "status": "sent",
    "letter_reference": "SCX/2026-014",
    "sent_on": "2026-03-02",
    "plan_id": "01a214bb-8702-7000-abee-62cd37c42400",
    "plan_title": "Plan d'action — quartier des Blagis",
    "commune": "Sceaux",
    "axis_title": "BIEN VIVRE AUX BLAGIS",
    "objective_title": "AMÉLIORER LE CADRE DE VIE",
    "lead_partner_id": "01a214bb-8702-7000-abee-62cd37c42401",
    "lead_partner_name": "Hauts-de-Seine Habitat",
    "owner_contact_id": "01a214bb-8702-7000-abee-62cd37c42402",
}
_DEADLINE_EXAMPLE: dict[str, Any] = {
    "id": "01a214bb-8702-7000-abee-62cd37c42403",
    "kind": "response",
    "label": None,
    "due_on": "2026-04-15",
    "original_wording": None,
    "version": 1,
    "met_on": None,
    "reminders_active": True,
}
_RECIPIENT_EXAMPLE: dict[str, Any] = {
    "contact_id": "01a214bb-8702-7000-abee-62cd37c42404",
    "partner_id": "01a214bb-8702-7000-abee-62cd37c42401",
    "partner_name": "Hauts-de-Seine Habitat",
    "audience": "liaison",
    "civility": "Madame",
    "first_name": "Claire",
    "last_name": "Martin",
    "title": "Directrice territoriale",
    "email": "claire.martin@example.org",
}


class ReminderItem(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ITEM_EXAMPLE]})

    id: uuid.UUID
    title: str
    plan_text: str
    kind: str
    status: str
    letter_reference: str | None
    sent_on: date | None
    plan_id: uuid.UUID
    plan_title: str
    commune: str
    axis_title: str
    objective_title: str
    lead_partner_id: uuid.UUID | None
    lead_partner_name: str | None
    owner_contact_id: uuid.UUID | None


class ReminderDeadline(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DEADLINE_EXAMPLE]})

    id: uuid.UUID
    kind: str
    label: str | None
    due_on: date
    original_wording: str | None
    version: int
    met_on: date | None = None
    # Whether this deadline is still being reminded (the scanner's rule: not met, the item not closed, a
    # response deadline not answered): a reminder queued earlier is dropped when this turns false.
    reminders_active: bool = True


class Recipient(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_RECIPIENT_EXAMPLE]})

    contact_id: uuid.UUID
    partner_id: uuid.UUID
    partner_name: str
    audience: Audience
    civility: str | None
    first_name: str | None
    last_name: str
    title: str | None
    email: str


class ReminderContext(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"item": _ITEM_EXAMPLE, "deadline": _DEADLINE_EXAMPLE, "recipients": [_RECIPIENT_EXAMPLE]}
            ]
        }
    )

    item: ReminderItem
    deadline: ReminderDeadline | None
    recipients: list[Recipient]


class DesignatedContactCreate(InputModel):
    """Either an existing contact of the partner (`contact_id`), or a colleague to add (name, email …)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "civility": "Monsieur",
                    "first_name": "Karim",
                    "last_name": "Benali",
                    "email": "k.benali@example.org",
                    "title": "Responsable du patrimoine",
                },
                {
                    "contact_id": "01a214bb-8702-7000-abee-62cd37c42404",
                    "partner_id": "01a214bb-8702-7000-abee-62cd37c42401",
                },
            ]
        }
    )

    partner_id: uuid.UUID | None = Field(
        default=None,
        description=("Le partenaire pour lequel ce contact répond ; déduit de la clé pour un partenaire."),
    )
    contact_id: uuid.UUID | None = None
    civility: Civility | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    title: SingleLine | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _one_way(self) -> DesignatedContactCreate:
        person = (self.civility, self.first_name, self.last_name, self.title, self.email)
        if self.contact_id is not None and any(value is not None for value in person):
            raise ValueError("contact_id, ou bien les coordonnées d'un collègue, pas les deux")
        if self.contact_id is None and (self.last_name is None or self.email is None):
            raise ValueError("last_name et email sont requis pour désigner un collègue (ou contact_id)")
        return self


class DesignatedContactRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "partner_id": "01a214bb-8702-7000-abee-62cd37c42401",
                    "contact": {
                        "id": "01a214bb-8702-7000-abee-62cd37c42405",
                        "partner_id": "01a214bb-8702-7000-abee-62cd37c42401",
                        "civility": "Monsieur",
                        "first_name": "Karim",
                        "last_name": "Benali",
                        "title": "Responsable du patrimoine",
                        "email": "k.benali@example.org",
                        "phone": None,
                        "role": "liaison",
                        "active_from": None,
                        "active_to": None,
                        "erased_at": None,
                        "created_at": "2026-03-02T09:00:00Z",
                        "updated_at": "2026-03-02T09:00:00Z",
                    },
                }
            ]
        }
    )

    item_id: uuid.UUID
    partner_id: uuid.UUID
    contact: ContactRead
