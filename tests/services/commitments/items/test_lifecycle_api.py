"""Every allowed transition through the API, and forbidden ones answered 409 naming the allowed ones."""

from __future__ import annotations

import uuid

import pytest

from services.commitments.items.lifecycle import (
    COMMITMENT_TRANSITIONS,
    REQUEST_TRANSITIONS,
    ItemKind,
    Status,
    allowed_targets,
)
from shared.auth import Role

# A path from the initial status to each status, so that each allowed transition can be tried from it.
REQUEST_PATHS: dict[Status, list[Status]] = {
    Status.DRAFT: [],
    Status.SENT: [Status.SENT],
    Status.ACKNOWLEDGED: [Status.SENT, Status.ACKNOWLEDGED],
    Status.NO_ANSWER: [Status.SENT, Status.NO_ANSWER],
    Status.ACCEPTED: [Status.SENT, Status.ACCEPTED],
    Status.PARTIALLY_ACCEPTED: [Status.SENT, Status.PARTIALLY_ACCEPTED],
    Status.DECLINED: [Status.SENT, Status.DECLINED],
    Status.IN_PROGRESS: [Status.SENT, Status.ACCEPTED, Status.IN_PROGRESS],
    Status.DELIVERED: [Status.SENT, Status.ACCEPTED, Status.IN_PROGRESS, Status.DELIVERED],
    Status.VERIFIED: [Status.SENT, Status.ACCEPTED, Status.IN_PROGRESS, Status.DELIVERED, Status.VERIFIED],
    Status.ABANDONED: [Status.ABANDONED],
}
COMMITMENT_PATHS: dict[Status, list[Status]] = {
    Status.PLANNED: [],
    Status.IN_PROGRESS: [Status.IN_PROGRESS],
    Status.DONE: [Status.IN_PROGRESS, Status.DONE],
    Status.ABANDONED: [Status.ABANDONED],
}
CASES = [(ItemKind.REQUEST, s, t) for s, ts in REQUEST_TRANSITIONS.items() for t in ts] + [
    (ItemKind.COMMITMENT, s, t) for s, ts in COMMITMENT_TRANSITIONS.items() for t in ts
]
FORBIDDEN = [
    (ItemKind.REQUEST, s, t) for s in REQUEST_TRANSITIONS for t in Status if t not in REQUEST_TRANSITIONS[s]
] + [
    (ItemKind.COMMITMENT, s, t)
    for s in COMMITMENT_TRANSITIONS
    for t in Status
    if t not in COMMITMENT_TRANSITIONS[s]
]


async def _item(admin, make_objective, make_partner, kind: ItemKind) -> str:
    objective_id = await make_objective()
    body = {
        "objective_id": str(objective_id),
        "kind": kind.value,
        "title": "Rénovation",
        "plan_text": "La Ville demande à X de rénover.",
    }
    if kind is ItemKind.REQUEST:
        body["lead_partner_id"] = str(await make_partner("Hauts-de-Seine Habitat"))
    response = await admin.post("/v1/items", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _walk(admin, item_id: str, path: list[Status]) -> None:
    for step in path:
        body = {"to": step.value}
        if step is Status.SENT:
            body["letter_reference"] = "SCX/2026-001"
        response = await admin.post(f"/v1/items/{item_id}/transitions", json=body)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(("kind", "source", "target"), CASES, ids=lambda v: str(v))
async def test_allowed_transition(admin, make_objective, make_partner, kind, source, target):
    item_id = await _item(admin, make_objective, make_partner, kind)
    await _walk(admin, item_id, (REQUEST_PATHS if kind is ItemKind.REQUEST else COMMITMENT_PATHS)[source])
    body = (
        {"to": target.value, "letter_reference": "SCX/2026-002"}
        if target is Status.SENT
        else {"to": target.value}
    )
    response = await admin.post(f"/v1/items/{item_id}/transitions", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == target.value
    history = (await admin.get(f"/v1/items/{item_id}/history")).json()
    assert history[-1]["changes"]["status"] == [source.value, target.value]


@pytest.mark.parametrize(("kind", "source", "target"), FORBIDDEN[::7], ids=lambda v: str(v))
async def test_forbidden_transition_is_409_naming_allowed(
    admin, make_objective, make_partner, kind, source, target
):
    item_id = await _item(admin, make_objective, make_partner, kind)
    await _walk(admin, item_id, (REQUEST_PATHS if kind is ItemKind.REQUEST else COMMITMENT_PATHS)[source])
    before = (await admin.get(f"/v1/items/{item_id}")).json()
    response = await admin.post(f"/v1/items/{item_id}/transitions", json={"to": target.value})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "forbidden-transition"
    assert problem["allowed_transitions"] == [t.value for t in allowed_targets(kind, source)]
    after = (await admin.get(f"/v1/items/{item_id}")).json()
    assert after["version"] == before["version"] and after["status"] == source.value


async def test_partner_cannot_verify_its_own_delivery(
    admin, make_objective, make_partner, make_key, client_for
):
    item_id = await _item(admin, make_objective, make_partner, ItemKind.REQUEST)
    lead = (await admin.get(f"/v1/items/{item_id}")).json()["lead_partner_id"]
    partner = client_for(await make_key(Role.PARTNER, partner_id=uuid.UUID(lead)))
    await _walk(admin, item_id, [Status.SENT])
    for step in (Status.ACKNOWLEDGED, Status.ACCEPTED, Status.IN_PROGRESS, Status.DELIVERED):
        response = await partner.post(f"/v1/items/{item_id}/transitions", json={"to": step.value})
        assert response.status_code == 200, response.text
    assert (await partner.get(f"/v1/items/{item_id}")).json()["allowed_transitions"] == []
    # The lifecycle has « delivered → verified », but it is the city's to make: 403, not 409.
    response = await partner.post(f"/v1/items/{item_id}/transitions", json={"to": "verified"})
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    # A transition that does not exist from here is still a 409, listing what the partner may do (nothing).
    response = await partner.post(f"/v1/items/{item_id}/transitions", json={"to": "accepted"})
    assert response.status_code == 409 and response.json()["allowed_transitions"] == []
    assert (await admin.get(f"/v1/items/{item_id}")).json()["status"] == "delivered"


async def test_sending_requires_letter_reference(admin, make_objective, make_partner):
    item_id = await _item(admin, make_objective, make_partner, ItemKind.REQUEST)
    response = await admin.post(f"/v1/items/{item_id}/transitions", json={"to": "sent"})
    assert response.status_code == 422
    assert (await admin.get(f"/v1/items/{item_id}")).json()["status"] == "draft"
