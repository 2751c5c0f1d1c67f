from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.notifications.deliveries.models import DeliveryKind, DeliveryStatus

_EXAMPLE: dict[str, Any] = {
    "id": "019abc12-8702-7000-abee-62cd37c4247d",
    "event_id": "5f0e4f7e-3d0a-4a55-9b8e-1c2d3e4f5a6b",
    "event_type": "deadline.overdue",
    "kind": "reminder",
    "channel": "email",
    "contact_id": "019abc12-8702-7000-abee-62cd37c42400",
    "item_id": "019abc12-8702-7000-abee-62cd37c42401",
    "deadline_id": "019abc12-8702-7000-abee-62cd37c42402",
    "partner_id": "019abc12-8702-7000-abee-62cd37c42403",
    "audience": "liaison",
    "status": "failed",
    "message_id": "<019abc12-8702-7000-abee-62cd37c4247d@ville-sceaux.fr>",
    "attempts": 1,
    "next_attempt_at": None,
    "last_error": "550 5.1.1 Boîte aux lettres inconnue",
    "digest_id": None,
    "related_delivery_id": None,
    "created_at": "2026-03-16T07:30:00Z",
    "updated_at": "2026-03-16T07:30:02Z",
    "sent_at": None,
    "failed_at": "2026-03-16T07:30:02Z",
    "bounced_at": None,
}


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_EXAMPLE]})

    id: uuid.UUID
    event_id: uuid.UUID = Field(
        description="L'événement à l'origine de l'envoi (ou l'identifiant du résumé)."
    )
    event_type: str
    kind: DeliveryKind
    channel: str
    contact_id: uuid.UUID
    item_id: uuid.UUID | None
    deadline_id: uuid.UUID | None
    partner_id: uuid.UUID | None = Field(description="Le partenaire du destinataire.")
    audience: str | None
    status: DeliveryStatus
    message_id: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None = Field(
        description="La dernière réponse du serveur SMTP en cas d'échec, ou l'avis de non-remise."
    )
    digest_id: uuid.UUID | None = Field(description="Le résumé hebdomadaire qui a repris ce rappel.")
    related_delivery_id: uuid.UUID | None = Field(description="Pour un signalement d'échec : l'envoi échoué.")
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    bounced_at: datetime | None = Field(description="Quand un avis de non-remise est revenu pour cet envoi.")


class DeliveryPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_EXAMPLE], "next_cursor": "019abc12-8702-7000-abee-62cd37c4247d"}]
        }
    )

    items: list[DeliveryRead]
    next_cursor: str | None = Field(description="À passer en `cursor` pour la page suivante ; null à la fin.")


class BounceRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "delivery_id": "019abc12-8702-7000-abee-62cd37c4247d",
                    "outcome": "bounced",
                    "action": "failed",
                    "status": "5.1.1",
                    "reason": "invalid-address:5.1.1",
                }
            ]
        }
    )

    delivery_id: uuid.UUID = Field(description="L'envoi que l'avis renvoie (par son Message-ID).")
    outcome: Literal["bounced", "already-bounced", "ignored"] = Field(
        description="`bounced` : l'envoi est marqué non remis ; `already-bounced` : il l'était déjà ; `ignored` : "
        "l'avis ne dit pas un échec (`delayed`, `delivered` …) ou l'envoi n'était pas parti."
    )
    action: str = Field(description="Le champ `Action` de l'avis (failed, delayed, delivered …).")
    status: str = Field(description="Le code d'état RFC 3463 de l'avis, p. ex. 5.1.1.")
    reason: str | None = Field(
        description="La raison publiée dans `delivery.bounced`, p. ex. invalid-address:5.1.1."
    )
