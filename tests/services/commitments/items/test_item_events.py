"""The item's events name its city owner (a contact's id, never a name), so that the reporting service can
give each city agent a calendar of the items in their charge."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from services.commitments.outbox.models import OutboxMessage


async def _events(app: Any, event_type: str) -> list[dict[str, Any]]:
    async with app.state.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.position)
            )
        ).all()
    return [
        json.loads(row.payload)["data"] if isinstance(row.payload, str) else row.payload["data"]
        for row in rows
    ]


async def test_created_and_updated_items_state_their_owner(app, admin, make_objective, make_partner) -> None:
    city = await make_partner("Ville")
    lead = await make_partner("Bailleur")
    contacts = []
    for name in ("Agent", "Autre"):
        response = await admin.post(f"/v1/partners/{city}/contacts", json={"last_name": name})
        assert response.status_code == 201, response.text
        contacts.append(response.json()["id"])
    response = await admin.post(
        "/v1/items",
        json={
            "objective_id": str(await make_objective()),
            "kind": "request",
            "title": "Rénovation",
            "plan_text": "La Ville demande de rénover",
            "lead_partner_id": str(lead),
            "owner_contact_id": contacts[0],
        },
    )
    assert response.status_code == 201, response.text
    item = response.json()
    assert [event["owner_contact_id"] for event in await _events(app, "item.created")] == [contacts[0]]

    changed = await admin.patch(f"/v1/items/{item['id']}", json={"owner_contact_id": contacts[1]})
    assert changed.status_code == 200, changed.text
    retitled = await admin.patch(f"/v1/items/{item['id']}", json={"title": "Rénovation des halls"})
    assert retitled.status_code == 200, retitled.text
    updated = await _events(app, "item.updated")
    assert [(event["changed"], event["owner_contact_id"]) for event in updated] == [
        (["owner_contact_id"], contacts[1]),
        (["title"], contacts[1]),
    ]
