"""Importing plans through the real database: the Blagis plan with its directory, an unseen plan, plans that
never merge, completing a plan with an amended text."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import httpx
import pytest

from services.commitments.partners.naming import normalize_name
from services.commitments.plans.importer import PlanAlreadyImported, text_fingerprint
from services.commitments.plans.plan_text import PartyName, parse_plan_text
from shared.problems import InvalidInput
from tests.services.commitments.sample_data import BLAGIS, CENTRE_VILLE, SAMPLE_PLAN

BLAGIS_REQUESTS = [
    "I.A.1",
    "I.A.2",
    "I.B.2",
    "I.C.1",
    "I.C.2",
    "I.D.2",
    "II.B.2",
    "II.C.2",
    "II.D.2",
    "II.D.3",
]
BLAGIS_LEADS = {
    "I.A.1": "Bailleurs sociaux",
    "I.A.2": "Bailleurs sociaux",
    "I.B.2": "Hauts-de-Seine Habitat",
    "I.C.1": "État",
    "I.C.2": "Bailleurs sociaux",
    "I.D.2": "Vallée Sud Grand Paris",
    "II.B.2": "État",
    "II.C.2": "Centre social et culturel des Blagis (CSCB)",
}


def _codes(item: dict) -> set[str]:
    return {flag["code"] for flag in item["review_flags"]}


async def test_blagis_with_the_sample_directory_finds_every_partner(
    admin, load_directory, partners_by_name, import_blagis, items_of
):
    directory = await load_directory()
    assert directory.warnings == [] and len(directory.created) == 11
    partners_before = await partners_by_name()
    report = await import_blagis(tags=["plan d'action municipal 2021", "Sceaux"])
    assert (report.axes, report.objectives, report.items, report.created_items) == (2, 11, 25, 25)
    assert report.created_partners == []
    assert await partners_by_name() == partners_before  # the import added nobody, changed nobody

    plan = (await admin.get(f"/v1/plans/{report.plan_id}")).json()
    assert [a["number"] for a in plan["axes"]] == ["I", "II"]
    assert [len(a["objectives"]) for a in plan["axes"]] == [5, 6]
    assert (plan["item_count"], plan["commune"], plan["territory"]) == (25, "Sceaux", "Quartier des Blagis")

    partners = partners_before
    items = await items_of(report.plan_id)
    assert sorted(ref for ref, item in items.items() if item["kind"] == "request") == sorted(BLAGIS_REQUESTS)
    for ref, name in BLAGIS_LEADS.items():
        assert items[ref]["lead_partner_id"] == partners[name]["id"], ref
    assert partners["Procureur de la République"]["id"] in items["I.C.1"]["associated_partner_ids"]
    assert partners["Communes voisines"]["id"] in items["I.C.1"]["associated_partner_ids"]
    assert partners["Département des Hauts-de-Seine"]["id"] in items["I.C.3"]["associated_partner_ids"]
    bailleurs = partners["Bailleurs sociaux"]
    assert partners["Hauts-de-Seine Habitat"]["id"] in bailleurs["member_ids"]
    assert (bailleurs["scope_territory"], bailleurs["scope_plan_id"]) == ("Quartier des Blagis", None)
    assert "VSGP" in partners["Vallée Sud Grand Paris"]["aliases"]
    assert not any(_codes(item) & {"partner-created", "group-without-members"} for item in items.values())
    assert items["II.D.3"]["needs_review"] and items["II.C.2"]["needs_review"]
    assert items["II.D.3"]["review_reason"] == "\n".join(
        f["message"] for f in items["II.D.3"]["review_flags"]
    )
    assert not items["I.B.2"]["needs_review"] and items["I.B.2"]["review_flags"] == []
    assert all(i["status"] == ("draft" if i["kind"] == "request" else "planned") for i in items.values())
    assert "propriétaire des murs" in items["I.B.2"]["plan_text"]
    assert items["I.B.2"]["tags"] == sorted(["plan d'action municipal 2021", "Sceaux"])
    deadlines = (await admin.get(f"/v1/items/{items['II.B.1']['id']}/deadlines")).json()
    assert [(d["kind"], d["due_on"], d["original_wording"]) for d in deadlines] == [
        ("delivery", "2021-09-22", "dès l'automne 2021")
    ]


async def test_without_a_directory_the_plan_adds_only_the_partners_it_names_each_flagged(
    admin, import_blagis, items_of
):
    report = await import_blagis()
    partners = {p["id"]: p for p in (await admin.get("/v1/partners")).json()}
    items = await items_of(report.plan_id)
    named = {
        pid
        for item in items.values()
        for pid in [item["lead_partner_id"], *item["associated_partner_ids"]]
        if pid
    }
    assert set(partners) == named  # nothing but what the plan names (no list of Sceaux's partners)
    assert sorted(report.created_partners) == sorted(p["name"] for p in partners.values())
    for item in items.values():
        for pid in [item["lead_partner_id"], *item["associated_partner_ids"]]:
            if pid:
                assert "partner-created" in _codes(item), item["reference"]
                if partners[pid]["is_group"]:
                    assert "group-without-members" in _codes(item), item["reference"]
    groups = [p for p in partners.values() if p["is_group"]]
    assert groups and all(g["member_ids"] == [] and g["scope_plan_id"] == str(report.plan_id) for g in groups)


async def test_an_unseen_plan_adds_only_its_own_partners_flagged(
    admin, load_directory, import_blagis, import_text, items_of
):
    await load_directory()
    blagis = await import_blagis()
    before = {p["id"]: p for p in (await admin.get("/v1/partners")).json()}
    report = await import_text(
        CENTRE_VILLE.read_text(encoding="utf-8"), commune="Sceaux", territory="Centre-ville"
    )
    after = {p["id"]: p for p in (await admin.get("/v1/partners")).json()}
    added = {pid: p for pid, p in after.items() if pid not in before}
    assert sorted(normalize_name(p["name"]) for p in added.values()) == [
        "bailleurs sociaux",
        "centre ville solidaire",
        "seine ouest habitat",
    ]
    assert sorted(report.created_partners) == sorted(p["name"] for p in added.values())
    assert {pid: after[pid] for pid in before} == before  # the directory of the Blagis is untouched
    items = await items_of(report.plan_id)
    state = next(p["id"] for p in before.values() if p["name"] == "État")
    assert items["I.B.2"]["lead_partner_id"] == state and "partner-created" not in _codes(items["I.B.2"])
    # "Les bailleurs sociaux" of the centre-ville are not those of the Blagis: a group of this plan, empty.
    [group] = [p for p in added.values() if p["is_group"]]
    assert (group["scope_plan_id"], group["scope_territory"], group["member_ids"]) == (
        str(report.plan_id),
        None,
        [],
    )
    assert items["I.A.1"]["lead_partner_id"] == group["id"]
    assert {"partner-created", "group-without-members"} <= _codes(items["I.A.1"])
    for ref in ("I.A.2", "II.A.2"):
        assert "partner-created" in _codes(items[ref]), ref
        assert items[ref]["lead_partner_id"] in {pid for pid, p in added.items() if not p["is_group"]}, ref
    assert {f.reference for f in report.flagged} >= {"I.A.1", "I.A.2", "II.A.2"}
    assert blagis.plan_id != report.plan_id


async def test_a_second_plan_never_merges_into_the_first(
    admin, load_directory, import_blagis, items_of, import_text
):
    await load_directory()
    blagis = await import_blagis()
    blagis_items = await items_of(blagis.plan_id)
    # Same commune, same title ("PLAN D'ACTION"), same axis numbers: the case that used to merge.
    other = await import_text(CENTRE_VILLE.read_text(encoding="utf-8"), **BLAGIS)
    assert other.created_plan and other.plan_id != blagis.plan_id
    assert (other.axes, other.objectives, other.items, other.created_items) == (2, 3, 7, 7)
    plans = (await admin.get("/v1/plans")).json()
    assert len(plans) == 2
    tree = (await admin.get(f"/v1/plans/{blagis.plan_id}")).json()
    assert ([len(a["objectives"]) for a in tree["axes"]], tree["item_count"]) == ([5, 6], 25)
    assert await items_of(blagis.plan_id) == blagis_items
    second = await items_of(other.plan_id)
    assert sorted(second) == ["I.A.1", "I.A.2", "I.A.3", "I.B.1", "I.B.2", "II.A.1", "II.A.2"]
    assert "végétaliser la place du marché" in second["I.A.3"]["plan_text"]


async def test_the_same_text_into_the_same_plan_changes_nothing(
    load_directory, import_blagis, outbox_count, items_of, import_text
):
    await load_directory()
    first = await import_blagis()
    events = await outbox_count()
    items_before = await items_of(first.plan_id)
    again = await import_blagis(plan_id=first.plan_id, commune=None, territory=None)
    assert (again.plan_id, again.created_plan, again.created_items, again.unchanged_items) == (
        first.plan_id,
        False,
        0,
        25,
    )
    assert (again.created_partners, again.flagged) == ([], [])
    assert await outbox_count() == events
    assert await items_of(first.plan_id) == items_before
    # The layout a PDF extraction varies (line ends, blank lines, spaces) does not make another text.
    relaid = SAMPLE_PLAN.read_text(encoding="utf-8").replace("\n", "\r\n\n").replace(" ", "  ")
    assert text_fingerprint(relaid) == text_fingerprint(SAMPLE_PLAN.read_text(encoding="utf-8"))
    assert (await import_text(relaid, plan_id=first.plan_id)).created_items == 0
    assert await outbox_count() == events


async def test_the_same_text_without_naming_the_plan_is_refused_with_its_plan(
    admin, import_blagis, outbox_count, import_text, items_of
):
    first = await import_blagis()
    events = await outbox_count()
    with pytest.raises(PlanAlreadyImported) as refused:
        await import_blagis()
    assert refused.value.status == 409 and refused.value.extensions["plan_id"] == str(first.plan_id)
    assert "plan_id" in refused.value.detail and "--plan" in refused.value.detail
    assert await outbox_count() == events  # the refused import recorded nothing
    other = await import_text(CENTRE_VILLE.read_text(encoding="utf-8"), commune="Sceaux")
    with pytest.raises(PlanAlreadyImported):  # nor into another plan: a text belongs to one plan
        await import_blagis(plan_id=other.plan_id, commune=None, territory=None)
    assert len((await admin.get("/v1/plans")).json()) == 2
    assert len(await items_of(other.plan_id)) == 7


async def test_identity_arguments_are_checked(import_blagis, import_text):
    with pytest.raises(InvalidInput, match="commune"):
        await import_text(SAMPLE_PLAN.read_text(encoding="utf-8"))
    first = await import_blagis()
    with pytest.raises(InvalidInput, match="commune"):
        await import_blagis(plan_id=first.plan_id)  # a completed plan keeps its commune
    with pytest.raises(InvalidInput, match="plan_id"):
        await import_text(
            "PLAN\n\nI. AXE\n\nA | OBJECTIF\n\n- La Ville organisera une fête", plan_id=uuid.UUID(int=1)
        )
    with pytest.raises(InvalidInput, match="illisible"):
        await import_text("rien à lire", commune="Sceaux")


async def test_completing_a_plan_with_an_amended_text_drops_nothing(
    admin, load_directory, import_blagis, items_of, import_text
):
    await load_directory()
    first = await import_blagis()
    original = await items_of(first.plan_id)
    text = SAMPLE_PLAN.read_text(encoding="utf-8")
    changed = "- La Ville demande aux bailleurs de s'engager pour des espaces végétalisés propres"
    assert changed in text
    amended = (
        text.replace(changed, changed.replace("propres", "propres et sûrs")).replace(
            "- La Ville demande à Hauts-de-Seine Habitat, propriétaire des murs,",
            "- La Ville demande à Hauts-de-Seine Habitat de rénover le parking du centre commercial\n"
            "- La Ville demande à Hauts-de-Seine Habitat, propriétaire des murs,",
        )
        + "\nG | ACCOMPAGNER LES SENIORS\n\n- La Ville organisera un repas des seniors chaque année\n"
    )
    report = await import_text(amended, plan_id=first.plan_id)
    assert (report.created_plan, report.created_items, report.unchanged_items) == (False, 3, 24)
    items = await items_of(first.plan_id)
    assert len(items) == 28
    for ref, item in original.items():  # every item of the first text is still there, as it was
        assert items[ref] == item, ref
    amended_bullet = items["I.A.5"]  # I.A.2 is taken by the former wording: the next free reference
    assert "propres et sûrs" in amended_bullet["plan_text"]
    assert "reference-changed" in _codes(amended_bullet) and "I.A.2" in amended_bullet["review_reason"]
    parking = next(item for item in items.values() if "parking" in item["plan_text"])
    assert parking["reference"] == "I.B.3" and "reference-changed" in _codes(parking)  # I.B.2 is taken
    assert "repas des seniors" in items["II.G.1"]["plan_text"] and "reference-changed" not in _codes(
        items["II.G.1"]
    )
    tree = (await admin.get(f"/v1/plans/{first.plan_id}")).json()
    assert [o["letter"] for o in tree["axes"][1]["objectives"]] == ["A", "B", "C", "D", "E", "F", "G"]
    assert len({o["position"] for a in tree["axes"] for o in a["objectives"]}) == 12
    again = await import_text(amended, plan_id=first.plan_id)
    assert (again.created_items, len(await items_of(first.plan_id))) == (0, 28)


async def test_partner_key_sees_only_its_items_after_import(
    app, admin, load_directory, import_blagis, partners_by_name, items_of
):
    await load_directory()
    report = await import_blagis()
    partners = await partners_by_name()
    created = await admin.post(
        "/v1/api-keys",
        json={"name": "HdSH", "role": "partner", "partner_id": partners["Hauts-de-Seine Habitat"]["id"]},
    )
    assert created.status_code == 201, created.text
    partner = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {created.json()['secret']}"},
    )
    seen = (await partner.get("/v1/items", params={"limit": 100})).json()["items"]
    # Its own request (commercial centre) and those to the group of social landlords it belongs to.
    assert sorted(i["reference"] for i in seen) == ["I.A.1", "I.A.2", "I.B.2", "I.C.1", "I.C.2"]
    hidden = (await items_of(report.plan_id))["I.D.2"]
    assert (await partner.get(f"/v1/items/{hidden['id']}")).status_code == 404


PLAN_TEXTS = [SAMPLE_PLAN, CENTRE_VILLE, *sorted((Path(__file__).parent / "fixtures").glob("*.txt"))]


@pytest.mark.parametrize("path", PLAN_TEXTS, ids=[path.stem for path in PLAN_TEXTS])
async def test_every_plan_is_imported_as_the_reader_read_it(admin, path, import_text, items_of):
    """Into an empty directory: every bullet an item with its reference, kind, partners (as written), target
    and the reader's flags; the directory holds exactly the partners the plan names, each flagged."""
    text = path.read_text(encoding="utf-8")
    parsed = parse_plan_text(text, date(2021, 6, 24))
    report = await import_text(text, commune="Commune", territory=path.stem, adopted_on=date(2021, 6, 24))
    bullets = [item for axis in parsed.axes for objective in axis.objectives for item in objective.items]
    assert (report.axes, report.objectives, report.items, report.created_items) == (
        len(parsed.axes),
        sum(len(a.objectives) for a in parsed.axes),
        len(bullets),
        len(bullets),
    )
    items = await items_of(report.plan_id)
    partners = {p["id"]: p for p in (await admin.get("/v1/partners")).json()}
    keys = {pid: {normalize_name(name) for name in [p["name"], *p["aliases"]]} for pid, p in partners.items()}

    def designates(pid: str, party: PartyName) -> bool:
        return bool({normalize_name(party.name), normalize_name(party.acronym or "")} & keys[pid])

    assert sorted(items) == sorted(bullet.source_key for bullet in bullets)
    for bullet in bullets:
        item = items[bullet.source_key]
        assert item["plan_text"] == bullet.text and item["title"] == bullet.title
        assert item["review_flags"][: len(bullet.flags)] == [
            {"code": f.code, "message": f.message} for f in bullet.flags
        ], bullet.source_key
        if bullet.lead_partner is not None:
            assert (item["kind"], designates(item["lead_partner_id"], bullet.lead_partner)) == (
                bullet.kind,
                True,
            )
        else:
            assert item["lead_partner_id"] is None
            assert item["kind"] == "commitment" and (
                bullet.kind == "commitment" or "request-without-partner" in _codes(item)
            ), bullet.source_key
        named = {pid for pid in [item["lead_partner_id"], *item["associated_partner_ids"]] if pid}
        for party in bullet.associated_partners:
            assert any(designates(pid, party) for pid in named), (bullet.source_key, party)
        for pid in named:
            assert "partner-created" in _codes(item), bullet.source_key
            if partners[pid]["is_group"]:
                assert (partners[pid]["scope_plan_id"], partners[pid]["member_ids"]) == (
                    str(report.plan_id),
                    [],
                )
        deadlines = (await admin.get(f"/v1/items/{item['id']}/deadlines")).json()
        assert [(d["due_on"], d["original_wording"]) for d in deadlines] == (
            [(bullet.target.on.isoformat(), bullet.target.wording)] if bullet.target else []
        ), bullet.source_key
    named_anywhere = {
        pid for item in items.values() for pid in [item["lead_partner_id"], *item["associated_partner_ids"]]
    }
    assert set(partners) == named_anywhere - {None}
