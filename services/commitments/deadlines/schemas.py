from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.input_types import BoundedDate, InputModel, MultiLine, SingleLine

DeadlineKind = Literal["response", "delivery", "milestone"]


class DeadlineCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"kind": "delivery", "due_on": "2021-09-22", "original_wording": "dès l'automne 2021"},
                {"kind": "response", "due_on": "2026-04-15"},
            ]
        }
    )

    kind: DeadlineKind
    due_on: BoundedDate
    label: SingleLine | None = None
    original_wording: SingleLine | None = None


class DeadlineUpdate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"due_on": "2026-06-30", "reason": "Conseil d'administration du bailleur reporté en juin."}
            ]
        }
    )

    due_on: BoundedDate | None = None
    reason: MultiLine | None = Field(default=None, description="Obligatoire quand la date change.")
    label: SingleLine | None = None
    met_on: BoundedDate | None = Field(default=None, description="Jalon atteint à cette date.")


class DeadlineChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    previous_due_on: date | None
    new_due_on: date
    reason: str | None
    actor_kind: str
    actor_id: str | None
    changed_at: datetime


class DeadlineRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "item_id": "01a214bb-8702-7000-abee-62cd37c4247e",
                    "kind": "delivery",
                    "label": None,
                    "due_on": "2021-09-22",
                    "original_wording": "dès l'automne 2021",
                    "met_on": None,
                    "version": 2,
                    "changes": [
                        {
                            "previous_due_on": None,
                            "new_due_on": "2021-09-22",
                            "reason": None,
                            "actor_kind": "api_key",
                            "actor_id": "01a214bb-8702-7000-abee-62cd37c4247d",
                            "changed_at": "2026-03-02T09:00:00Z",
                        }
                    ],
                }
            ]
        },
    )

    id: uuid.UUID
    item_id: uuid.UUID
    kind: DeadlineKind
    label: str | None
    due_on: date
    original_wording: str | None
    met_on: date | None
    version: int
    changes: list[DeadlineChangeRead] = []


class ProposalCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"proposed_due_on": "2026-09-30", "reason": "Appel d'offres infructueux, relance en juin."}
            ]
        }
    )

    proposed_due_on: BoundedDate
    reason: MultiLine = Field(min_length=1)


class ProposalDecision(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"accept": True}]})

    accept: bool
    comment: MultiLine | None = None


class ProposalRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "deadline_id": "01a214bb-8702-7000-abee-62cd37c4247e",
                    "proposed_due_on": "2026-09-30",
                    "reason": "Appel d'offres infructueux.",
                    "status": "pending",
                    "proposed_at": "2026-03-02T09:00:00Z",
                    "decided_at": None,
                }
            ]
        },
    )

    id: uuid.UUID
    deadline_id: uuid.UUID
    proposed_due_on: date
    reason: str
    status: str
    proposed_at: datetime
    decided_at: datetime | None
