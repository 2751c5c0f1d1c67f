from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.notifications.preferences.models import ApproachingMode
from shared.input_types import InputModel


class PreferencesUpdate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"approaching": "weekly_digest"}]})

    approaching: ApproachingMode = Field(
        description="Rappels avant échéance : à chaque fois (`immediate`) ou "
        "regroupés dans un résumé hebdomadaire (`weekly_digest`). "
        "Échéance du jour, retards et relances partent toujours aussitôt."
    )


class PreferencesRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "contact_id": "019abc12-8702-7000-abee-62cd37c42400",
                    "approaching": "weekly_digest",
                    "updated_at": "2026-03-02T09:00:00Z",
                }
            ]
        },
    )

    contact_id: uuid.UUID
    approaching: ApproachingMode
    updated_at: datetime | None = Field(description="null : jamais modifiées (réglage par défaut).")
