from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.notifications.webhooks.models import ALL_EVENTS
from shared.events.envelope import event_types
from shared.input_types import InputModel, SingleLine, Url

DeliveryStatus = Literal["pending", "succeeded", "failed"]

_ID = "01a214bb-8702-7000-abee-62cd37c4247d"
_SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def subscribable_types() -> list[str]:
    """The event types a subscription may name: those the commitments service publishes (the stream the webhook
    consumer follows; catalogue in shared/events), and "*" for all."""
    return [ALL_EVENTS, *sorted({event_type for event_type, _version in event_types("commitments")})]


def _known_types(values: list[str]) -> list[str]:
    known = set(subscribable_types())
    unknown = [value for value in values if value not in known]
    if unknown:
        raise ValueError(
            f"type d'événement inconnu : {', '.join(unknown)} (types possibles : "
            f"{', '.join(subscribable_types())})"
        )
    # One entry per type, in a stable order: the list is compared and shown, never ranked.
    return sorted(set(values))


EventTypes = Annotated[
    list[Annotated[str, Field(max_length=80)]],
    Field(
        min_length=1,
        max_length=100,
        description="Types d'événements envoyés (voir docs/events.md), ou `*` pour tous.",
    ),
    AfterValidator(_known_types),
]


class WebhookCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://intranet.ville-sceaux.fr/hooks/engagements",
                    "event_types": ["deadline.overdue", "deadline.escalated"],
                    "description": "Tableau de bord du cabinet",
                },
                {"url": "https://intranet.ville-sceaux.fr/hooks/tout", "event_types": ["*"]},
            ]
        }
    )

    url: Url = Field(description="Adresse https publique qui reçoit les POST signés.")
    event_types: EventTypes
    description: SingleLine | None = None


class WebhookUpdate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"enabled": True},
                {"event_types": ["item.status_changed", "deadline.overdue"]},
                {"url": "https://intranet.ville-sceaux.fr/hooks/v2"},
            ]
        }
    )

    url: Url | None = None
    event_types: EventTypes | None = None
    description: SingleLine | None = None
    enabled: bool | None = Field(default=None, description="Réactiver remet à zéro le compteur d'échecs.")


_READ_EXAMPLE: dict[str, Any] = {
    "id": _ID,
    "url": "https://intranet.ville-sceaux.fr/hooks/engagements",
    "description": "Tableau de bord du cabinet",
    "event_types": ["deadline.escalated", "deadline.overdue"],
    "enabled": True,
    "disabled_reason": None,
    "consecutive_failures": 0,
    "created_at": "2026-03-02T09:00:00Z",
    "updated_at": "2026-03-02T09:00:00Z",
}


class WebhookRead(BaseModel):
    """A subscription as listed: never its secret."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_READ_EXAMPLE]})

    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead):
    """A subscription with its signing secret: answered once, at creation and at each rotation."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{**_READ_EXAMPLE, "secret": _SECRET_EXAMPLE}]}
    )

    secret: str = Field(description="Secret de signature (Standard Webhooks) : montré cette fois seulement.")


class WebhookAttemptRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "number": 1,
                    "attempted_at": "2026-03-02T09:00:01Z",
                    "status_code": 503,
                    "error": None,
                    "duration_ms": 41,
                }
            ]
        },
    )

    number: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int | None


class WebhookDeliveryRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "subscription_id": "01a214bb-8702-7000-abee-62cd37c4247e",
                    "event_id": "01a214bb-8702-7000-abee-62cd37c4247f",
                    "event_type": "deadline.overdue",
                    "status": "pending",
                    "attempts": 1,
                    "next_attempt_at": "2026-03-02T09:00:31Z",
                    "last_status_code": 503,
                    "last_error": None,
                    "created_at": "2026-03-02T09:00:00Z",
                    "completed_at": None,
                    "history": [
                        {
                            "number": 1,
                            "attempted_at": "2026-03-02T09:00:01Z",
                            "status_code": 503,
                            "error": None,
                            "duration_ms": 41,
                        }
                    ],
                }
            ]
        },
    )

    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None
    history: list[WebhookAttemptRead] = Field(
        default=[], description="Chaque tentative, la plus ancienne d'abord."
    )


class WebhookDeliveryPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "next_cursor": None}]})

    items: list[WebhookDeliveryRead]
    next_cursor: uuid.UUID | None = Field(
        description="À passer en `cursor` pour la page suivante ; null à la fin."
    )
