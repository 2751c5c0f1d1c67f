from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_validator

from services.commitments.recipients.schemas import Recipient
from services.commitments.reminders import rules as r
from shared.input_types import InputModel, StrictFlag

_HHMM = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")


def _hhmm(value: Any) -> Any:
    # "08:30" only: pydantic would also read 30600 (seconds) or "08:30:00+02:00", which are client bugs here.
    if isinstance(value, str) and _HHMM.fullmatch(value):
        return value
    raise ValueError("heure attendue au format HH:MM (heure de Paris), par exemple « 08:30 »")


ClockTime = Annotated[time, BeforeValidator(_hhmm)]
StrictInt = Annotated[int, Strict()]

RULES_EXAMPLE: dict[str, Any] = {
    "enabled": True,
    "before_working_days": [10, 3, 1],
    "on_due_day": True,
    "after": {"first": 1, "every": 5},
    "escalation": {"late_after": 10, "very_late_after": 20, "repeats_after_very_late": 2},
    "sending_window": {"start": "08:30", "end": "18:00"},
}


class AfterRules(InputModel):
    first: StrictInt = Field(
        ge=1, le=r.MAX_AFTER, description="Premier rappel, N jours ouvrés après l'échéance."
    )
    every: StrictInt = Field(
        ge=1, le=r.MAX_AFTER, description="Puis tous les N jours ouvrés (comptés depuis l'échéance)."
    )


class EscalationRules(InputModel):
    late_after: StrictInt = Field(
        ge=1,
        le=r.MAX_LATE,
        description="Retard (jours ouvrés) à partir duquel la hiérarchie du partenaire et le responsable à la ville sont ajoutés.",
    )
    very_late_after: StrictInt = Field(
        ge=2, le=r.MAX_LATE, description="Retard à partir duquel l'élu est ajouté."
    )
    repeats_after_very_late: StrictInt = Field(
        ge=0, le=r.MAX_REPEATS, description="Relances après le grand retard, puis arrêt."
    )

    @model_validator(mode="after")
    def _ordered(self) -> EscalationRules:
        if self.very_late_after <= self.late_after:
            raise ValueError("escalation : very_late_after doit être supérieur à late_after")
        return self


class SendingWindow(InputModel):
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _ordered(self) -> SendingWindow:
        if self.end <= self.start:
            raise ValueError("sending_window : l'heure de fin doit être après l'heure de début")
        return self


class ReminderRulesUpdate(InputModel):
    """An override: only the groups given replace the inherited ones; an empty document inherits everything."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"before_working_days": [15, 5, 1], "sending_window": {"start": "09:00", "end": "17:00"}},
                {"escalation": {"late_after": 5, "very_late_after": 15, "repeats_after_very_late": 0}},
                {"enabled": False},
            ]
        }
    )

    enabled: StrictFlag | None = None
    before_working_days: list[StrictInt] | None = Field(
        default=None, max_length=r.MAX_BEFORE_STEPS, description="Rappels N jours ouvrés avant l'échéance."
    )
    on_due_day: StrictFlag | None = None
    after: AfterRules | None = None
    escalation: EscalationRules | None = None
    sending_window: SendingWindow | None = None

    @model_validator(mode="after")
    def _offsets(self) -> ReminderRulesUpdate:
        for n in self.before_working_days or []:
            if not 1 <= n <= r.MAX_BEFORE:
                raise ValueError(
                    f"before_working_days : chaque valeur doit être entre 1 et {r.MAX_BEFORE} (reçu {n})"
                )
        if self.before_working_days is not None and len(set(self.before_working_days)) != len(
            self.before_working_days
        ):
            raise ValueError("before_working_days : valeurs en double")
        return self

    def document(self) -> dict[str, Any]:
        """The override as stored: the groups given, in JSON form."""
        return self.model_dump(mode="json", exclude_none=True)


class RulesDocument(BaseModel):
    enabled: bool
    before_working_days: list[int]
    on_due_day: bool
    after: dict[str, int]
    escalation: dict[str, int]
    sending_window: dict[str, str]


class ReminderRulesRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": "item",
                    "target_id": "01a214bb-8702-7000-abee-62cd37c4247e",
                    "override": {"before_working_days": [15, 5, 1]},
                    "effective": {**RULES_EXAMPLE, "before_working_days": [15, 5, 1]},
                    "updated_at": "2026-03-02T09:00:00Z",
                }
            ]
        }
    )

    scope: Literal["plan", "partner", "item"]
    target_id: uuid.UUID
    override: dict[str, Any] | None = Field(description="Ce que ce niveau remplace (null : tout est hérité).")
    effective: RulesDocument = Field(description="Les règles qui s'appliquent à ce niveau, héritage compris.")
    updated_at: datetime | None


class UpcomingReminder(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reminder_key": "01a214bb-8702-7000-abee-62cd37c4247d:1:0:D-3",
                    "event_type": "deadline.approaching",
                    "fire_at": "2026-03-04T07:30:00Z",
                    "step": "D-3",
                    "offset_working_days": -3,
                    "escalation": "none",
                    "audience": ["liaison", "deputy"],
                    "partner_ids": ["01a214bb-8702-7000-abee-62cd37c4247f"],
                    "deadline_id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "deadline_kind": "response",
                    "due_on": "2026-03-09",
                    "deadline_version": 1,
                    "item_id": "01a214bb-8702-7000-abee-62cd37c4247e",
                    "item_title": "Rénovation du centre commercial des Blagis",
                    "plan_id": "01a214bb-8702-7000-abee-62cd37c42480",
                    "recipients": [
                        {
                            "contact_id": "01a214bb-8702-7000-abee-62cd37c42481",
                            "partner_id": "01a214bb-8702-7000-abee-62cd37c4247f",
                            "partner_name": "Hauts-de-Seine Habitat",
                            "audience": "liaison",
                            "civility": "Madame",
                            "first_name": "Claire",
                            "last_name": "Martin",
                            "title": "Directrice territoriale",
                            "email": "claire.martin@example.org",
                        },
                        {
                            "contact_id": "01a214bb-8702-7000-abee-62cd37c42482",
                            "partner_id": "01a214bb-8702-7000-abee-62cd37c4247f",
                            "partner_name": "Hauts-de-Seine Habitat",
                            "audience": "deputy",
                            "civility": "Monsieur",
                            "first_name": "Karim",
                            "last_name": "Benali",
                            "title": None,
                            "email": "k.benali@example.org",
                        },
                    ],
                }
            ]
        }
    )

    reminder_key: str
    event_type: str
    fire_at: datetime = Field(
        description="Instant d'envoi prévu (UTC) ; dans le passé : envoi au prochain passage du scanner."
    )
    step: str
    offset_working_days: int
    escalation: str
    audience: list[str]
    partner_ids: list[uuid.UUID]
    deadline_id: uuid.UUID
    deadline_kind: str
    due_on: date
    deadline_version: int
    item_id: uuid.UUID
    item_title: str
    plan_id: uuid.UUID
    recipients: list[Recipient] | None = Field(
        default=None,
        description=(
            "Les personnes derrière ces rôles, telles qu'elles seraient résolues aujourd'hui (elles le sont de nouveau "
            "à l'envoi) ; pour les clés admin, city et service seulement — null pour les autres (lecteurs, "
            "partenaires), qui ne voient que les rôles."
        ),
    )
