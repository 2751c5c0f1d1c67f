"""Importing the Blagis plan: counts, partners, classification, idempotency, through the real database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from services.commitments.auth.principal import SYSTEM
from services.commitments.outbox.models import OutboxMessage
from services.commitments.plans.importer import import_plan_text

SAMPLE = Path(__file__).parents[4] / "services/commitments/plans/sample_data/plan-action-blagis.txt"


async def _import(app, clock):
    async with app.state.sessionmaker() as session, session.begin():
        return await import_plan_text(session, SYSTEM, clock, SAMPLE.read_text(encoding="utf-8"), commune="Sceaux",
                                      territory="Quartier des Blagis", tags=["plan d'action municipal 2021", "Sceaux"])


async def _outbox_count(app) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)))


async def test_blagis_plan_import_counts_partners_and_classification(app, clock, admin):
    report = await _import(app, clock)
    assert (report.axes, report.objectives, report.items, report.created_items) == (2, 11, 25, 25)

    plan = (await admin.get(f"/v1/plans/{report.plan_id}")).json()
    assert [a["number"] for a in plan["axes"]] == ["I", "II"]
    assert [len(a["objectives"]) for a in plan["axes"]] == [5, 6]
    assert plan["item_count"] == 25

    partners = {p["name"]: p for p in (await admin.get("/v1/partners")).json()}
    items = (await admin.get("/v1/items", params={"plan_id": str(report.plan_id), "limit": 100})).json()["items"]
    assert len(items) == 25
    by_ref = {i["reference"]: i for i in items}
    requests = {ref: i for ref, i in by_ref.items() if i["kind"] == "request"}
    assert sorted(requests) == sorted(["I.A.1", "I.A.2", "I.B.2", "I.C.1", "I.C.2", "I.D.2", "II.B.2", "II.C.2",
                                       "II.D.2", "II.D.3"])
    expected_leads = {"I.A.1": "Bailleurs sociaux", "I.B.2": "Hauts-de-Seine Habitat", "I.C.1": "État",
                      "I.D.2": "Vallée Sud Grand Paris", "II.B.2": "État",
                      "II.C.2": "Centre social et culturel des Blagis (CSCB)"}
    for ref, name in expected_leads.items():
        assert requests[ref]["lead_partner_id"] == partners[name]["id"], ref
    assert partners["Procureur de la République"]["id"] in requests["I.C.1"]["associated_partner_ids"]
    assert partners["Département des Hauts-de-Seine"]["id"] in by_ref["I.C.3"]["associated_partner_ids"]
    assert partners["Hauts-de-Seine Habitat"]["id"] in partners["Bailleurs sociaux"]["member_ids"]
    assert "VSGP" in partners["Vallée Sud Grand Paris"]["aliases"]
    assert by_ref["II.D.3"]["needs_review"] and by_ref["II.C.2"]["needs_review"]
    assert not by_ref["I.B.2"]["needs_review"]
    assert all(i["status"] == ("draft" if i["kind"] == "request" else "planned") for i in items)
    assert "propriétaire des murs" in by_ref["I.B.2"]["plan_text"]

    deadlines = (await admin.get(f"/v1/items/{by_ref['II.B.1']['id']}/deadlines")).json()
    assert [(d["kind"], d["due_on"], d["original_wording"]) for d in deadlines] == [
        ("delivery", "2021-09-22", "dès l'automne 2021")]


async def test_importing_twice_changes_nothing(app, clock, admin):
    first = await _import(app, clock)
    events_after_first = await _outbox_count(app)
    items_before = (await admin.get("/v1/items", params={"limit": 100})).json()["items"]
    second = await _import(app, clock)
    assert second.plan_id == first.plan_id
    assert (second.created_plan, second.created_items, second.created_partners) == (False, 0, [])
    assert await _outbox_count(app) == events_after_first
    assert (await admin.get("/v1/items", params={"limit": 100})).json()["items"] == items_before
    assert len((await admin.get("/v1/plans")).json()) == 1


async def test_partner_key_sees_only_its_items_after_import(app, clock, admin):
    await _import(app, clock)
    partners = {p["name"]: p["id"] for p in (await admin.get("/v1/partners")).json()}
    created = await admin.post("/v1/api-keys", json={"name": "HdSH", "role": "partner",
                                                      "partner_id": partners["Hauts-de-Seine Habitat"]})
    assert created.status_code == 201, created.text
    import httpx

    partner = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                headers={"Authorization": f"Bearer {created.json()['secret']}"})
    seen = (await partner.get("/v1/items", params={"limit": 100})).json()["items"]
    refs = sorted(i["reference"] for i in seen)
    # Its own request (commercial centre) and those to the group of social landlords it belongs to.
    assert refs == ["I.A.1", "I.A.2", "I.B.2", "I.C.1", "I.C.2"]
    others = (await admin.get("/v1/items", params={"limit": 100})).json()["items"]
    hidden = next(i for i in others if i["reference"] == "I.D.2")
    assert (await partner.get(f"/v1/items/{hidden['id']}")).status_code == 404
