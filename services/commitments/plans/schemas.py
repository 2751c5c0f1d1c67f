from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict


class ObjectiveRead(BaseModel):
    id: uuid.UUID
    letter: str
    title: str
    context: str
    position: int
    item_count: int
    progress_percent: float | None


class AxisRead(BaseModel):
    id: uuid.UUID
    number: str
    title: str
    position: int
    item_count: int
    progress_percent: float | None
    objectives: list[ObjectiveRead]


class PlanSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [
        {"id": "01a214bb-8702-7000-abee-62cd37c4247d", "title": "Plan d'action — quartier des Blagis",
         "commune": "Sceaux", "territory": "Quartier des Blagis", "adopted_on": None}]})

    id: uuid.UUID
    title: str
    commune: str
    territory: str | None
    adopted_on: date | None
    created_at: datetime


class PlanRead(PlanSummary):
    item_count: int
    progress_percent: float | None
    axes: list[AxisRead]
