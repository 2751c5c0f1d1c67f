"""Reminder contexts and events for the email tests, as the commitments service and the scanner send them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from services.notifications.recipients import ReminderContext
from shared.events.commitments import DeadlineApproaching, DeadlineDue, DeadlineEscalated, DeadlineOverdue

ITEM_ID = uuid.UUID("01a214bb-8702-7000-abee-62cd37c4247d")
DEADLINE_ID = uuid.UUID("01a214bb-8702-7000-abee-62cd37c42403")
LIAISON_ID = uuid.UUID("01a214bb-8702-7000-abee-62cd37c42404")
PARTNER_ID = uuid.UUID("01a214bb-8702-7000-abee-62cd37c42401")
OWNER_ID = uuid.UUID("01a214bb-8702-7000-abee-62cd37c42402")
PLAN_TEXT = (
    "La Ville demande à Hauts-de-Seine Habitat de définir et mettre en œuvre un programme ambitieux de "
    "rénovation, voire de restructuration, du centre commercial des Blagis."
)
# Thursday 21 May 2026: Ascension is Thursday 14 May, so the working days before it skip a holiday.
DUE_ON = date(2026, 5, 21)


def context_json(**item_overrides: Any) -> dict[str, Any]:
    item = {
        "id": str(ITEM_ID),
        "title": "Rénovation du centre commercial des Blagis",
        "plan_text": PLAN_TEXT,
        "kind": "request",
        "status": "sent",
        "letter_reference": "SCX/DGS/2026-041",
        "sent_on": "2026-03-02",
        "plan_id": str(uuid.uuid4()),
        "plan_title": "Plan d'action — quartier des Blagis",
        "commune": "Sceaux",
        "axis_title": "BIEN VIVRE AUX BLAGIS",
        "objective_title": "AMÉLIORER LE CADRE DE VIE",
        "lead_partner_id": str(PARTNER_ID),
        "lead_partner_name": "Hauts-de-Seine Habitat",
        "owner_contact_id": str(OWNER_ID),
    }
    item.update(item_overrides)
    return {
        "item": item,
        "deadline": {
            "id": str(DEADLINE_ID),
            "kind": "response",
            "label": None,
            "due_on": DUE_ON.isoformat(),
            "original_wording": None,
            "version": 1,
        },
        "recipients": [
            {
                "contact_id": str(LIAISON_ID),
                "partner_id": str(PARTNER_ID),
                "partner_name": "Hauts-de-Seine Habitat",
                "audience": "liaison",
                "civility": "Madame",
                "first_name": "Claire",
                "last_name": "Dupont",
                "title": "Directrice de la gestion locative",
                "email": "claire.dupont@hsh.example",
            },
            {
                "contact_id": str(OWNER_ID),
                "partner_id": str(uuid.uuid4()),
                "partner_name": "Ville de Sceaux",
                "audience": "city_owner",
                "civility": "Monsieur",
                "first_name": "Marc",
                "last_name": "Agent",
                "title": "Chef de projet politique de la ville",
                "email": "agent@sceaux.example",
            },
        ],
    }


def context(**item_overrides: Any) -> ReminderContext:
    return ReminderContext.model_validate(context_json(**item_overrides))


_EVENTS = {
    "approaching": DeadlineApproaching,
    "due": DeadlineDue,
    "overdue": DeadlineOverdue,
    "escalated": DeadlineEscalated,
}


def event(
    kind: str, offset: int, escalation: str = "none", due_on: date = DUE_ON, deadline_kind: str = "response"
) -> Any:
    return _EVENTS[kind](
        reminder_key=f"{DEADLINE_ID}:1:1:{offset}",
        deadline_id=DEADLINE_ID,
        item_id=ITEM_ID,
        plan_id=uuid.uuid4(),
        kind=deadline_kind,
        due_on=due_on,
        deadline_version=1,
        step=str(offset),
        offset_working_days=offset,
        escalation=escalation,
        audience=["liaison"],
        partner_ids=[PARTNER_ID],
        fire_at=datetime(2026, 5, 18, 6, 30, tzinfo=UTC),
    )


LINKS = {
    key: f"https://notifications.test/actions/{key}-token"
    for key in ("acknowledge", "done", "new_date", "not_for_me")
}
