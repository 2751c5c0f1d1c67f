"""Requests to a partner with a deadline, built through the API as a city agent would, for the reminder tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Request:
    item_id: str
    deadline_id: str
    partner_id: str


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON of an answer of exactly this status."""
    assert response.status_code == status, response.text
    return response.json()


async def _request_item(
    admin: httpx.AsyncClient, objective_id: uuid.UUID, partner_id: uuid.UUID, title: str
) -> Any:
    """A draft request to the partner, without a deadline."""
    return ok(
        await admin.post(
            "/v1/items",
            json={
                "objective_id": str(objective_id),
                "kind": "request",
                "title": title,
                "plan_text": "La Ville demande au bailleur de rénover le centre commercial.",
                "lead_partner_id": str(partner_id),
            },
        ),
        201,
    )


async def draft_request(
    admin: httpx.AsyncClient,
    objective_id: uuid.UUID,
    partner_id: uuid.UUID,
    due_on: str,
    title: str = "Rénovation du centre commercial",
    kind: str = "response",
) -> Request:
    """A request to the partner, still a draft, with a deadline of this kind."""
    item = await _request_item(admin, objective_id, partner_id, title)
    deadline = ok(
        await admin.post(f"/v1/items/{item['id']}/deadlines", json={"kind": kind, "due_on": due_on}), 201
    )
    return Request(item["id"], deadline["id"], str(partner_id))


async def sent_request(
    admin: httpx.AsyncClient,
    objective_id: uuid.UUID,
    partner_id: uuid.UUID,
    due_on: str,
    title: str = "Rénovation du centre commercial",
) -> Request:
    """A request to the partner, sent, with a response deadline."""
    item = await _request_item(admin, objective_id, partner_id, title)
    ok(
        await admin.post(
            f"/v1/items/{item['id']}/transitions", json={"to": "sent", "letter_reference": "SCX/1"}
        )
    )
    deadline = ok(
        await admin.post(f"/v1/items/{item['id']}/deadlines", json={"kind": "response", "due_on": due_on}),
        201,
    )
    return Request(item["id"], deadline["id"], str(partner_id))
