"""Plans over HTTP: build one by hand, or import one from text."""

from __future__ import annotations

import asyncio

from shared.auth import Role
from tests.services.commitments.sample_data import SAMPLE_PLAN


async def test_build_a_plan_by_hand(admin):
    plan = await admin.post("/v1/plans", json={"title": "Plan seniors", "commune": "Sceaux"})
    assert plan.status_code == 201, plan.text
    axis = await admin.post(
        f"/v1/plans/{plan.json()['id']}/axes", json={"number": "I", "title": "BIEN VIEILLIR"}
    )
    assert axis.status_code == 201
    assert (
        await admin.post(f"/v1/plans/{plan.json()['id']}/axes", json={"number": "I", "title": "Doublon"})
    ).status_code == 409
    objective = await admin.post(
        f"/v1/axes/{axis.json()['id']}/objectives", json={"letter": "A", "title": "ROMPRE L'ISOLEMENT"}
    )
    assert objective.status_code == 201
    tree = (await admin.get(f"/v1/plans/{plan.json()['id']}")).json()
    assert [(a["number"], [o["letter"] for o in a["objectives"]]) for a in tree["axes"]] == [("I", ["A"])]


async def test_import_through_the_api_reports_what_needs_review(admin, make_key, client_for, load_directory):
    await load_directory()
    body = {
        "text": SAMPLE_PLAN.read_text(encoding="utf-8"),
        "commune": "Sceaux",
        "territory": "Quartier des Blagis",
        "adopted_on": "2021-06-24",
    }
    first = await admin.post("/v1/plans/import", json=body)
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["axes"], report["objectives"], report["items"], report["created_items"]) == (2, 11, 25, 25)
    assert (report["created_plan"], report["unchanged_items"], report["created_partners"]) == (True, 0, [])
    flagged = {f["reference"]: f for f in report["flagged"]}
    assert {"II.C.2", "II.D.3"} <= set(flagged)
    for entry in flagged.values():
        assert entry["flags"] and all(f["code"] and f["message"] for f in entry["flags"])
        assert entry["reasons"] == "\n".join(f["message"] for f in entry["flags"])
    plan = (await admin.get(f"/v1/plans/{report['plan_id']}")).json()
    assert (plan["adopted_on"], plan["territory"]) == ("2021-06-24", "Quartier des Blagis")

    # The same text again, without naming its plan: refused, with the plan to name.
    again = await admin.post("/v1/plans/import", json=body)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    assert (again.json()["code"], again.json()["plan_id"]) == ("plan-already-imported", report["plan_id"])
    # Naming it: nothing changes.
    completed = await admin.post(
        "/v1/plans/import", json={"text": body["text"], "plan_id": report["plan_id"]}
    )
    assert completed.status_code == 200, completed.text
    assert (
        completed.json()["created_plan"],
        completed.json()["created_items"],
        completed.json()["unchanged_items"],
    ) == (False, 0, 25)
    assert len((await admin.get("/v1/plans")).json()) == 1

    for wrong in (
        {"text": "rien à lire", "commune": "Sceaux"},
        {"text": body["text"].replace("PLAN D'ACTION", "PLAN")},  # a new plan needs its commune
        {"text": body["text"], "plan_id": report["plan_id"], "commune": "Sceaux"},
        {"text": body["text"], "plan_id": "01a214bb-8702-7000-abee-62cd37c4247d"},
    ):
        refused = await admin.post("/v1/plans/import", json=wrong)
        assert refused.status_code == 422, wrong
    reader = client_for(await make_key(Role.READER))
    assert (await reader.post("/v1/plans/import", json=body)).status_code == 403


async def test_the_same_new_text_imported_twice_at_once_makes_one_plan(admin):
    """Two requests racing: one creates the plan, the other is told which plan the text belongs to."""
    body = {"text": SAMPLE_PLAN.read_text(encoding="utf-8"), "commune": "Sceaux"}
    first, second = await asyncio.gather(
        admin.post("/v1/plans/import", json=body), admin.post("/v1/plans/import", json=body)
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409], (first.text, second.text)
    created, refused = (first, second) if first.status_code == 200 else (second, first)
    assert (refused.json()["code"], refused.json()["plan_id"]) == (
        "plan-already-imported",
        created.json()["plan_id"],
    )
    plans = (await admin.get("/v1/plans")).json()
    assert [plan["id"] for plan in plans] == [created.json()["plan_id"]]
    items = (await admin.get("/v1/items", params={"limit": 100})).json()["items"]
    assert len(items) == 25
