from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from shared.input_types import InputModel, Name, SingleLine


class PartnerKind(StrEnum):
    ETAT = "etat"
    COLLECTIVITE = "collectivite"
    ETABLISSEMENT_PUBLIC_TERRITORIAL = "etablissement_public_territorial"
    BAILLEUR_SOCIAL = "bailleur_social"
    ASSOCIATION = "association"
    ETABLISSEMENT_CULTUREL = "etablissement_culturel"
    JUSTICE = "justice"
    GROUP = "group"
    OTHER = "other"


def _valid_siret(value: str) -> str:
    """A SIRET's 14 digits pass the Luhn check (La Poste's establishments use a digit sum divisible by 5)."""
    if value.startswith("356000000"):
        valid = sum(int(d) for d in value) % 5 == 0
    else:
        total = 0
        for position, digit in enumerate(int(d) for d in reversed(value)):
            doubled = digit * 2 if position % 2 else digit
            total += doubled - 9 if doubled > 9 else doubled
        valid = total % 10 == 0
    if not valid:
        raise ValueError("numéro SIRET invalide (clé de contrôle)")
    return value


Siret = Annotated[str, StringConstraints(pattern=r"^[0-9]{14}$"), AfterValidator(_valid_siret)]

_SCOPE_PLAN = (
    "Pour un groupe : le plan auquel il appartient (seuls les éléments de ce plan peuvent le désigner). "
    "Un groupe a un plan ou un territoire, jamais les deux ; une organisation n'a ni l'un ni l'autre."
)
_SCOPE_TERRITORY = (
    "Pour un groupe : le territoire auquel il appartient (les plans de ce territoire peuvent le désigner)."
)
_SCOPE_CHANGE = (
    "Envoyer l'un des deux remplace le périmètre du groupe ; refusé si un élément d'un plan hors du "
    "nouveau périmètre le désigne."
)

_EXAMPLE: dict[str, Any] = {
    "name": "Vallée Sud Grand Paris",
    "kind": "etablissement_public_territorial",
    "aliases": ["VSGP", "l'établissement public Vallée Sud Grand Paris"],
    "siret": "20005791500007",
}


class PartnerCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    name: SingleLine
    kind: PartnerKind
    aliases: list[SingleLine] = Field(default_factory=list, max_length=50)
    siret: Siret | None = None
    is_group: bool = False
    member_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=500,
        description="Membres, pour un groupe (« les bailleurs sociaux »).",
    )
    scope_plan_id: uuid.UUID | None = Field(default=None, description=_SCOPE_PLAN)
    scope_territory: Name | None = Field(default=None, description=_SCOPE_TERRITORY)


class PartnerUpdate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"aliases": ["VSGP", "Vallée Sud"]}]})

    name: SingleLine | None = None
    kind: PartnerKind | None = None
    aliases: list[SingleLine] | None = Field(default=None, max_length=50)
    siret: Siret | None = None
    member_ids: list[uuid.UUID] | None = Field(default=None, max_length=500)
    scope_plan_id: uuid.UUID | None = Field(default=None, description=_SCOPE_PLAN + " " + _SCOPE_CHANGE)
    scope_territory: Name | None = Field(default=None, description=_SCOPE_TERRITORY + " " + _SCOPE_CHANGE)


class PartnerRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_EXAMPLE,
                    "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "is_group": False,
                    "member_ids": [],
                    "scope_plan_id": None,
                    "scope_territory": None,
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    kind: PartnerKind
    aliases: list[str]
    siret: str | None
    is_group: bool
    member_ids: list[uuid.UUID]
    scope_plan_id: uuid.UUID | None = Field(description=_SCOPE_PLAN)
    scope_territory: str | None = Field(description=_SCOPE_TERRITORY)
    created_at: datetime
    updated_at: datetime
