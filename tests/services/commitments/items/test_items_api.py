"""Items over HTTP: optimistic concurrency, idempotent POST, filters, stable cursor pagination, sorting."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest


async def _request(admin, objective_id, lead, title="Rénovation du centre commercial", **extra):
    body = {
        "objective_id": str(objective_id),
        "kind": "request",
        "title": title,
        "plan_text": f"La Ville demande de {title.lower()}",
        "lead_partner_id": str(lead),
        **extra,
    }
    response = await admin.post("/v1/items", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_stale_if_match_is_412_and_writes_nothing(admin, make_objective, make_partner):
    item = await _request(admin, await make_objective(), await make_partner("HdSH"))
    first = await admin.get(f"/v1/items/{item['id']}")
    etag = first.headers["etag"]
    assert etag == '"1"'
    ok = await admin.patch(
        f"/v1/items/{item['id']}", json={"title": "Nouveau titre"}, headers={"If-Match": etag}
    )
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await admin.patch(f"/v1/items/{item['id']}", json={"title": "Autre"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["current_version"] == 2
    stale_transition = await admin.post(
        f"/v1/items/{item['id']}/transitions", json={"to": "abandoned"}, headers={"If-Match": etag}
    )
    assert stale_transition.status_code == 412
    now = (await admin.get(f"/v1/items/{item['id']}")).json()
    assert (now["title"], now["status"], now["version"]) == ("Nouveau titre", "draft", 2)


async def test_idempotency_key_replays_and_rejects_other_body(admin, make_objective, make_partner):
    objective, lead = await make_objective(), await make_partner("VSGP")
    body = {
        "objective_id": str(objective),
        "kind": "request",
        "title": "Bus",
        "plan_text": "Réseau de bus",
        "lead_partner_id": str(lead),
    }
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await admin.post("/v1/items", json=body, headers=key)
    again = await admin.post("/v1/items", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers.get("idempotent-replayed") == "true"
    other = await admin.post("/v1/items", json={**body, "title": "Autre"}, headers=key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency-key-reused"
    listed = (await admin.get("/v1/items", params={"objective_id": str(objective)})).json()["items"]
    assert [i["id"] for i in listed] == [first.json()["id"]]


async def test_cursor_pagination_is_stable_and_complete(admin, make_objective, make_partner):
    objective, lead = await make_objective(), await make_partner("Bailleur")
    created = [(await _request(admin, objective, lead, title=f"Demande {n:02d}"))["id"] for n in range(7)]
    for sort, expected in (
        ("created", created),
        ("-created", created[::-1]),
        ("title", created),
        ("-title", created[::-1]),
    ):
        seen, cursor = [], None
        while True:
            params = {"limit": 3, "sort": sort, **({"cursor": cursor} if cursor else {})}
            page = (await admin.get("/v1/items", params=params)).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
            if len(seen) == 3:  # an item created mid-listing must not shift later pages
                await _request(
                    admin, objective, lead, title="ZZ ajoutée" if sort.startswith("-") else "AA ajoutée"
                )
        assert [i for i in seen if i in created] == expected, sort
    bad = await admin.get("/v1/items", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid-cursor"


async def test_filters_partner_status_text_overdue_due_dates(
    admin, make_objective, make_partner, plan_of, clock
):
    objective = await make_objective()
    hdsh, vsgp = await make_partner("Hauts-de-Seine Habitat"), await make_partner("VSGP")
    group = await make_partner(
        "Bailleurs sociaux", member_ids=[hdsh], is_group=True, scope_plan_id=await plan_of(objective)
    )
    mall = await _request(admin, objective, hdsh, title="Centre commercial")
    bus = await _request(admin, objective, vsgp, title="Réseau de bus")
    facades = await _request(admin, objective, group, title="Ravalements")
    today = clock.now().date()
    await admin.post(
        f"/v1/items/{mall['id']}/deadlines",
        json={"kind": "response", "due_on": str(today - timedelta(days=3))},
    )
    await admin.post(
        f"/v1/items/{bus['id']}/deadlines",
        json={"kind": "response", "due_on": str(today + timedelta(days=30))},
    )
    # A draft whose date has passed: nobody was asked anything yet, so it is not late.
    await admin.post(
        f"/v1/items/{facades['id']}/deadlines",
        json={"kind": "response", "due_on": str(today - timedelta(days=10))},
    )
    for item in (mall, bus):
        await admin.post(
            f"/v1/items/{item['id']}/transitions",
            json={"to": "sent", "letter_reference": "L1", "on": str(today - timedelta(days=20))},
        )

    async def ids(**params):
        response = await admin.get("/v1/items", params=params)
        assert response.status_code == 200, response.text
        return {i["id"] for i in response.json()["items"]}

    assert await ids(partner_id=str(hdsh)) == {mall["id"], facades["id"]}  # directly and through its group
    assert await ids(status="sent") == {mall["id"], bus["id"]}
    assert await ids(status=["sent", "draft"]) == {mall["id"], bus["id"], facades["id"]}
    assert await ids(q="bus") == {bus["id"]}
    assert await ids(q="100%_") == set()
    assert await ids(overdue="true") == {mall["id"]}
    assert await ids(overdue="false") == {bus["id"], facades["id"]}
    assert await ids(due_before=str(today)) == {mall["id"], facades["id"]}
    assert await ids(due_after=str(today)) == {bus["id"]}
    item = (await admin.get(f"/v1/items/{mall['id']}")).json()
    assert item["overdue"] is True and item["next_due_on"] == str(today - timedelta(days=3))
    draft = (await admin.get(f"/v1/items/{facades['id']}")).json()
    assert draft["overdue"] is False and draft["next_due_on"] == str(today - timedelta(days=10))
    listed = (await admin.get("/v1/items", params={"objective_id": str(objective)})).json()["items"]
    assert {i["id"]: i["overdue"] for i in listed} == {
        mall["id"]: True,
        bus["id"]: False,
        facades["id"]: False,
    }


async def test_answer_closes_response_deadline_and_progress_rolls_up(admin, make_objective, make_partner):
    objective = await make_objective()
    item = await _request(admin, objective, await make_partner("CSCB"))
    await admin.post(f"/v1/items/{item['id']}/deadlines", json={"kind": "response", "due_on": "2026-02-01"})
    assert (await admin.get(f"/v1/items/{item['id']}")).json()["overdue"] is False  # a draft is never late
    await admin.post(f"/v1/items/{item['id']}/transitions", json={"to": "sent", "letter_reference": "L"})
    assert (await admin.get(f"/v1/items/{item['id']}")).json()["overdue"] is True
    answer = await admin.post(
        f"/v1/items/{item['id']}/transitions",
        json={"to": "accepted", "comment": "Accord du conseil d'administration."},
    )
    assert answer.status_code == 200 and answer.json()["overdue"] is False
    journal = (await admin.get(f"/v1/items/{item['id']}/journal")).json()
    assert [(e["kind"], e["text"]) for e in journal] == [("response", "Accord du conseil d'administration.")]
    progress = await admin.post(
        f"/v1/items/{item['id']}/journal",
        json={"kind": "progress", "text": "Moitié faite", "progress_percent": 50},
    )
    assert progress.status_code == 201, progress.text
    other = await _request(admin, objective, await make_partner("Autre"))
    await admin.post(f"/v1/items/{other['id']}/transitions", json={"to": "abandoned"})
    plan_id = (await admin.get(f"/v1/items/{item['id']}")).json()["plan_id"]
    plan = (await admin.get(f"/v1/plans/{plan_id}")).json()
    # The abandoned item does not count; the objective and axis average the live ones.
    assert plan["axes"][0]["objectives"][0]["progress_percent"] == 50.0
    assert plan["axes"][0]["progress_percent"] == 50.0 and plan["progress_percent"] == 50.0


@pytest.mark.parametrize("answered", [False, True])
async def test_silence_past_the_response_deadline_is_no_answer_not_acceptance(
    app, admin, make_objective, make_partner, clock, answered
):
    from services.commitments.items.service import mark_unanswered
    from shared.auth import SYSTEM

    item = await _request(admin, await make_objective(), await make_partner("État"))
    await admin.post(f"/v1/items/{item['id']}/deadlines", json={"kind": "response", "due_on": "2026-03-10"})
    await admin.post(f"/v1/items/{item['id']}/transitions", json={"to": "sent", "letter_reference": "L"})
    if answered:
        await admin.post(f"/v1/items/{item['id']}/transitions", json={"to": "declined"})
    clock.advance(timedelta(days=10))
    async with app.state.sessionmaker() as session, session.begin():
        changed = await mark_unanswered(session, SYSTEM, clock)
    status = (await admin.get(f"/v1/items/{item['id']}")).json()["status"]
    assert status == ("declined" if answered else "no_answer")
    assert len(changed) == (0 if answered else 1)
