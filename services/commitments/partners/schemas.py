from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.input_types import InputModel, SingleLine


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


Siret = Annotated[str, StringConstraints(pattern=r"^[0-9]{14}$")]

_EXAMPLE = {"name": "Vallée Sud Grand Paris", "kind": "etablissement_public_territorial",
            "aliases": ["VSGP", "l'établissement public Vallée Sud Grand Paris"], "siret": "20005791500012"}


class PartnerCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    name: SingleLine
    kind: PartnerKind
    aliases: list[SingleLine] = Field(default_factory=list, max_length=50)
    siret: Siret | None = None
    is_group: bool = False
    member_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500,
                                        description="Membres, pour un groupe (« les bailleurs sociaux »).")


class PartnerUpdate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"aliases": ["VSGP", "Vallée Sud"]}]})

    name: SingleLine | None = None
    kind: PartnerKind | None = None
    aliases: list[SingleLine] | None = Field(default=None, max_length=50)
    siret: Siret | None = None
    member_ids: list[uuid.UUID] | None = Field(default=None, max_length=500)


class PartnerRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{**_EXAMPLE, "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                                                                "is_group": False, "member_ids": []}]})

    id: uuid.UUID
    name: str
    kind: PartnerKind
    aliases: list[str]
    siret: str | None
    is_group: bool
    member_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime
