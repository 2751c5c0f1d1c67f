"""Deadlines: renegotiation history, partner proposals decided by the city."""

from __future__ import annotations

import uuid

from shared.auth import Role


async def _item(admin, make_objective, lead):
    response = await admin.post(
        "/v1/items",
        json={
            "objective_id": str(await make_objective()),
            "kind": "request",
            "title": "Maison France services",
            "plan_text": "La Ville demande à l'État la possibilité d'ouvrir une maison France services",
            "lead_partner_id": str(lead),
        },
    )
    return response.json()["id"]


async def test_renegotiation_keeps_who_when_why(admin, make_objective, make_partner):
    item_id = await _item(admin, make_objective, await make_partner("État"))
    deadline = (
        await admin.post(f"/v1/items/{item_id}/deadlines", json={"kind": "delivery", "due_on": "2026-09-30"})
    ).json()
    no_reason = await admin.patch(f"/v1/deadlines/{deadline['id']}", json={"due_on": "2026-12-31"})
    assert no_reason.status_code == 422
    moved = await admin.patch(
        f"/v1/deadlines/{deadline['id']}",
        json={"due_on": "2026-12-31", "reason": "Arbitrage préfectoral reporté."},
    )
    assert moved.status_code == 200 and moved.json()["version"] == 2
    listed = (await admin.get(f"/v1/items/{item_id}/deadlines")).json()[0]
    assert [(c["previous_due_on"], c["new_due_on"], c["reason"]) for c in listed["changes"]] == [
        (None, "2026-09-30", None),
        ("2026-09-30", "2026-12-31", "Arbitrage préfectoral reporté."),
    ]
    assert all(c["actor_kind"] == "api_key" and c["changed_at"] for c in listed["changes"])
    second = await admin.post(
        f"/v1/items/{item_id}/deadlines", json={"kind": "delivery", "due_on": "2027-01-01"}
    )
    assert second.status_code == 409


async def test_partner_proposes_city_decides(admin, make_objective, make_partner, make_key, client_for):
    lead = await make_partner("État")
    item_id = await _item(admin, make_objective, lead)
    deadline = (
        await admin.post(f"/v1/items/{item_id}/deadlines", json={"kind": "response", "due_on": "2026-04-15"})
    ).json()
    partner = client_for(await make_key(Role.PARTNER, partner_id=lead))
    assert (
        await partner.patch(f"/v1/deadlines/{deadline['id']}", json={"due_on": "2026-06-30", "reason": "x"})
    ).status_code == 403
    proposal = await partner.post(
        f"/v1/deadlines/{deadline['id']}/proposals",
        json={"proposed_due_on": "2026-06-30", "reason": "Consultation en cours."},
    )
    assert proposal.status_code == 201, proposal.text
    assert (
        await partner.post(f"/v1/deadline-proposals/{proposal.json()['id']}/decision", json={"accept": True})
    ).status_code == 403
    decided = await admin.post(
        f"/v1/deadline-proposals/{proposal.json()['id']}/decision", json={"accept": True}
    )
    assert decided.status_code == 200 and decided.json()["status"] == "accepted"
    again = await admin.post(
        f"/v1/deadline-proposals/{proposal.json()['id']}/decision", json={"accept": False}
    )
    assert again.status_code == 409
    current = (await admin.get(f"/v1/items/{item_id}/deadlines")).json()[0]
    assert current["due_on"] == "2026-06-30"
    assert "Consultation en cours." in current["changes"][-1]["reason"]
    assert (await admin.get(f"/v1/deadlines/{uuid.uuid4()}/proposals")).status_code in (404, 405)
