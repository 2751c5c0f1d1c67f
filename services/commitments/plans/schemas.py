from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.input_types import BoundedDate, InputModel, Marker, MultiLine, Name, ShortCode, SingleLine


class ObjectiveRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "letter": "B",
                    "title": "FAVORISER UN ACCÈS AUX SERVICES PUBLICS",
                    "context": "",
                    "position": 7,
                    "item_count": 2,
                    "progress_percent": 25.0,
                }
            ]
        }
    )

    id: uuid.UUID
    letter: str
    title: str
    context: str
    position: int
    item_count: int
    progress_percent: float | None


class AxisRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a214bb-8702-7000-abee-62cd37c4247e",
                    "number": "II",
                    "title": "BIEN RÉUSSIR AUX BLAGIS",
                    "position": 2,
                    "item_count": 12,
                    "progress_percent": 18.5,
                    "objectives": [
                        {
                            "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                            "letter": "B",
                            "title": "FAVORISER UN ACCÈS AUX SERVICES PUBLICS",
                            "context": "",
                            "position": 7,
                            "item_count": 2,
                            "progress_percent": 25.0,
                        }
                    ],
                }
            ]
        }
    )

    id: uuid.UUID
    number: str
    title: str
    position: int
    item_count: int
    progress_percent: float | None
    objectives: list[ObjectiveRead]


class PlanSummary(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "title": "Plan d'action — quartier des Blagis",
                    "commune": "Sceaux",
                    "territory": "Quartier des Blagis",
                    "adopted_on": None,
                }
            ]
        },
    )

    id: uuid.UUID
    title: str
    commune: str
    territory: str | None
    adopted_on: date | None
    elected_contact_id: uuid.UUID | None = None
    created_at: datetime


class PlanRead(PlanSummary):
    item_count: int
    progress_percent: float | None
    axes: list[AxisRead]


class PlanCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Plan d'action — quartier des Blagis",
                    "commune": "Sceaux",
                    "territory": "Quartier des Blagis",
                    "adopted_on": "2021-06-24",
                }
            ]
        }
    )

    title: SingleLine
    commune: Name
    territory: Name | None = None
    adopted_on: BoundedDate | None = None


class PlanUpdate(InputModel):
    """Only the fields sent change; `elected_contact_id` (null to clear) names the elected official or
    cabinet told when an item of the plan is very late."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"elected_contact_id": "01a214bb-8702-7000-abee-62cd37c42406", "adopted_on": "2021-06-24"}
            ]
        }
    )

    title: SingleLine | None = None
    territory: Name | None = None
    adopted_on: BoundedDate | None = None
    elected_contact_id: uuid.UUID | None = None


class AxisCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"number": "III", "title": "BIEN GRANDIR AUX BLAGIS"}]}
    )

    number: Marker
    title: SingleLine


class ObjectiveCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "letter": "G",
                    "title": "ACCOMPAGNER LES SENIORS",
                    "context": "Le quartier compte de nombreux seniors.",
                }
            ]
        }
    )

    letter: Marker
    title: SingleLine
    context: MultiLine = ""


class PlanImport(InputModel):
    """A plan's text. Without `plan_id`, a new plan is created (`commune` required); a text already imported
    is refused (409, with the plan it belongs to). With `plan_id`, that plan is completed: the same text again
    changes nothing, an amended text adds the bullets the plan does not hold yet."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "text": "PLAN D'ACTION\n\nI. BIEN VIVRE AUX BLAGIS\n\nA | AMÉLIORER LE CADRE DE VIE\n\n- La Ville demande "
                    "aux bailleurs sociaux de poursuivre la requalification du patrimoine",
                    "commune": "Sceaux",
                    "territory": "Quartier des Blagis",
                    "adopted_on": "2021-06-24",
                    "tags": ["plan d'action municipal 2021"],
                }
            ]
        }
    )

    text: MultiLine = Field(min_length=1)
    plan_id: uuid.UUID | None = Field(
        default=None, description="Le plan à compléter ; absent : un nouveau plan."
    )
    commune: Name | None = Field(default=None, description="Obligatoire pour un nouveau plan.")
    territory: Name | None = None
    title: SingleLine | None = None
    adopted_on: BoundedDate | None = Field(
        default=None,
        description=(
            "Date d'adoption du plan : les échéances relatives (« dans les six mois ») en partent ; à défaut, celle "
            "du plan complété, sinon aujourd'hui."
        ),
    )
    tags: list[ShortCode] = Field(default_factory=list, max_length=30)


class ReviewFlagOut(BaseModel):
    code: str = Field(
        description="Code stable : partner-created, group-without-members, partner-name-uncertain…"
    )
    message: str


class FlaggedItemRead(BaseModel):
    reference: str
    reasons: str = Field(description="Les messages, un par ligne.")
    flags: list[ReviewFlagOut]


class ImportReportRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plan_id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "created_plan": True,
                    "axes": 2,
                    "objectives": 11,
                    "items": 25,
                    "created_items": 25,
                    "unchanged_items": 0,
                    "created_partners": ["Caisse d'allocations familiales"],
                    "flagged": [
                        {
                            "reference": "II.D.3",
                            "reasons": "Partenaire « Caisse d'allocations familiales » absent de "
                            "l'annuaire : ajouté.",
                            "flags": [
                                {
                                    "code": "partner-created",
                                    "message": "Partenaire « Caisse d'allocations "
                                    "familiales » absent de l'annuaire : ajouté.",
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    plan_id: uuid.UUID
    created_plan: bool
    axes: int = Field(description="Axes dans le texte.")
    objectives: int
    items: int = Field(description="Puces dans le texte.")
    created_items: int
    unchanged_items: int = Field(description="Puces que le plan contenait déjà.")
    created_partners: list[str]
    flagged: list[FlaggedItemRead] = Field(description="Éléments créés à relire : référence et motifs.")
