from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.auth import Role
from shared.input_types import InputModel, Name


class ApiKeyCreate(InputModel):
    name: Name = Field(examples=["Intranet — tableau de bord"])
    role: Role = Field(examples=["reader"])
    partner_id: uuid.UUID | None = Field(default=None, description="Obligatoire pour le rôle partner.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Hauts-de-Seine Habitat — liaison",
                    "role": "partner",
                    "partner_id": "01a214bb-8702-7000-abee-62cd37c4247d",
                }
            ]
        }
    )


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "name": "Hauts-de-Seine Habitat — liaison",
                    "prefix": "eng_Xy12Ab",
                    "role": "partner",
                    "partner_id": "01a214bb-8702-7000-abee-62cd37c4247e",
                    "created_at": "2026-03-02T09:00:00Z",
                    "revoked_at": None,
                }
            ]
        },
    )

    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    partner_id: uuid.UUID | None
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "name": "Hauts-de-Seine Habitat — liaison",
                    "prefix": "eng_Xy12Ab",
                    "role": "partner",
                    "partner_id": "01a214bb-8702-7000-abee-62cd37c4247e",
                    "created_at": "2026-03-02T09:00:00Z",
                    "revoked_at": None,
                    "secret": "eng_Xy12Ab...",
                }
            ]
        }
    )

    secret: str = Field(description="La clé elle-même : affichée une seule fois, conservez-la.")


class Introspection(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "active": True,
                    "key_id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "role": "partner",
                    "partner_id": "01a214bb-8702-7000-abee-62cd37c4247e",
                    "visible_partner_ids": ["01a214bb-8702-7000-abee-62cd37c4247e"],
                }
            ]
        }
    )

    active: bool
    key_id: uuid.UUID | None = None
    role: Role | None = None
    partner_id: uuid.UUID | None = None
    visible_partner_ids: list[uuid.UUID] = []
