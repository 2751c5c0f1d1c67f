"""Plans over HTTP: build one by hand, or import one from text."""

from __future__ import annotations

from pathlib import Path

from services.commitments.auth.principal import Role

SAMPLE = Path(__file__).parents[4] / "services/commitments/plans/sample_data/plan-action-blagis.txt"


async def test_build_a_plan_by_hand(admin):
    plan = await admin.post("/v1/plans", json={"title": "Plan seniors", "commune": "Sceaux"})
    assert plan.status_code == 201, plan.text
    axis = await admin.post(f"/v1/plans/{plan.json()['id']}/axes", json={"number": "I", "title": "BIEN VIEILLIR"})
    assert axis.status_code == 201
    assert (await admin.post(f"/v1/plans/{plan.json()['id']}/axes",
                             json={"number": "I", "title": "Doublon"})).status_code == 409
    objective = await admin.post(f"/v1/axes/{axis.json()['id']}/objectives",
                                 json={"letter": "A", "title": "ROMPRE L'ISOLEMENT"})
    assert objective.status_code == 201
    tree = (await admin.get(f"/v1/plans/{plan.json()['id']}")).json()
    assert [(a["number"], [o["letter"] for o in a["objectives"]]) for a in tree["axes"]] == [("I", ["A"])]


async def test_import_through_the_api_reports_what_needs_review(admin, make_key, client_for):
    body = {"text": SAMPLE.read_text(encoding="utf-8"), "commune": "Sceaux", "territory": "Quartier des Blagis"}
    first = await admin.post("/v1/plans/import", json=body)
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["axes"], report["objectives"], report["items"], report["created_items"]) == (2, 11, 25, 25)
    assert {f["reference"] for f in report["flagged"]} == {"II.C.2", "II.D.2", "II.D.3"}
    again = (await admin.post("/v1/plans/import", json=body)).json()
    assert (again["created_plan"], again["created_items"]) == (False, 0)
    unreadable = await admin.post("/v1/plans/import", json={"text": "rien à lire", "commune": "Sceaux"})
    assert unreadable.status_code == 422
    reader = client_for(await make_key(Role.READER))
    assert (await reader.post("/v1/plans/import", json=body)).status_code == 403
