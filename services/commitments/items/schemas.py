from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from services.commitments.items.lifecycle import ItemKind, Status
from shared.input_types import BoundedDate, InputModel, Money, MultiLine, Name, ShortCode, SingleLine

_EXAMPLE: dict[str, Any] = {
    "objective_id": "01a214bb-8702-7000-abee-62cd37c4247d",
    "kind": "request",
    "title": "Rénovation et redynamisation du centre commercial",
    "plan_text": "La Ville demande à Hauts-de-Seine Habitat, propriétaire des murs, de définir et mettre en "
    "œuvre un programme ambitieux de rénovation et redynamisation du centre commercial",
    "lead_partner_id": "01a214bb-8702-7000-abee-62cd37c4247e",
    "associated_partner_ids": [],
    "tags": ["plan d'action municipal 2021", "Sceaux"],
    "budget": "150000.00",
}


class ReviewFlagRead(TypedDict):
    """Something to check, found by the import: a stable code and a French message."""

    code: str
    message: str


class ItemCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    objective_id: uuid.UUID
    kind: ItemKind
    title: SingleLine
    plan_text: MultiLine = Field(min_length=1)
    lead_partner_id: uuid.UUID | None = Field(default=None, description="Obligatoire pour une demande.")
    associated_partner_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    owner_contact_id: uuid.UUID | None = Field(default=None, description="Agent de la ville responsable.")
    elected_contact_id: uuid.UUID | None = Field(
        default=None,
        description=("Élu (ou cabinet) informé en cas de retard important ; à défaut, celui du plan."),
    )
    budget: Money | None = None
    tags: list[ShortCode] = Field(default_factory=list, max_length=30)


class ItemUpdate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Centre commercial des Blagis", "budget": "200000.00"}]}
    )

    title: SingleLine | None = None
    plan_text: MultiLine | None = Field(default=None, min_length=1)
    lead_partner_id: uuid.UUID | None = None
    associated_partner_ids: list[uuid.UUID] | None = Field(default=None, max_length=50)
    owner_contact_id: uuid.UUID | None = None
    elected_contact_id: uuid.UUID | None = None
    budget: Money | None = None
    tags: list[ShortCode] | None = Field(default=None, max_length=30)
    needs_review: bool | None = None
    review_reason: MultiLine | None = None


class TransitionRequest(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"to": "sent", "on": "2026-03-02", "letter_reference": "SCX/DGS/2026-041"},
                {"to": "accepted", "comment": "Programme de rénovation validé en conseil d'administration."},
            ]
        }
    )

    to: Status
    on: BoundedDate | None = Field(
        default=None, description="Date de l'événement (par défaut : aujourd'hui)."
    )
    letter_reference: Name | None = Field(default=None, description="Référence du courrier (envoi).")
    comment: MultiLine | None = None


class ItemRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_EXAMPLE,
                    "id": "01a214bb-8702-7000-abee-62cd37c4247f",
                    "status": "sent",
                    "status_label": "envoyée",
                }
            ]
        }
    )

    id: uuid.UUID
    plan_id: uuid.UUID
    axis_id: uuid.UUID
    objective_id: uuid.UUID
    position: int
    reference: str | None
    kind: ItemKind
    title: str
    plan_text: str
    status: Status
    status_label: str
    allowed_transitions: list[Status] = Field(
        description=(
            "Les transitions que l'appelant peut faire depuis l'état actuel (docs/permissions.md) : aucune pour un "
            "partenaire associé, un lecteur ou un service."
        )
    )
    lead_partner_id: uuid.UUID | None
    associated_partner_ids: list[uuid.UUID]
    owner_contact_id: uuid.UUID | None
    elected_contact_id: uuid.UUID | None
    budget: Decimal | None
    tags: list[str]
    needs_review: bool
    review_reason: str | None
    review_flags: list[ReviewFlagRead] = Field(
        description="Ce que l'import a relevé à vérifier (code stable, message)."
    )
    sent_on: date | None
    letter_reference: str | None
    progress_percent: int | None
    next_due_on: date | None
    overdue: bool = Field(
        description=(
            "Une échéance ouverte est dépassée. Jamais pour une demande en brouillon (pas encore envoyée) ni pour "
            "un élément réalisé, vérifié, refusé ou abandonné."
        )
    )
    version: int
    created_at: datetime
    updated_at: datetime


class ItemPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": ItemRead.model_config["json_schema_extra"]["examples"],  # type: ignore[index]  # set as a dict just above
                    "next_cursor": "eyJzIjoiY3JlYXRlZCJ9",
                }
            ]
        }
    )

    items: list[ItemRead]
    next_cursor: str | None = Field(description="À passer en `cursor` pour la page suivante ; null à la fin.")
