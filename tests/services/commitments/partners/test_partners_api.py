"""The partner directory: aliases resolve, names are unique, groups have members, and names and aliases can be
edited (every edit once failed on the unique index of the aliases)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.commitments.partners.service import resolve_by_name
from tests.responses import ok


async def _resolved(app: Any, wording: str) -> str | None:
    async with app.state.sessionmaker() as session:
        found = await resolve_by_name(session, wording)
    return str(found.id) if found else None


async def test_create_partner_with_aliases_and_resolve_them(app, admin):
    partner = ok(
        await admin.post(
            "/v1/partners",
            json={
                "name": "Vallée Sud Grand Paris",
                "kind": "etablissement_public_territorial",
                "aliases": ["VSGP", "l'établissement public Vallée Sud Grand Paris"],
                "siret": "20005791500007",
            },
        )
    )
    assert partner["aliases"] == ["VSGP", "l'établissement public Vallée Sud Grand Paris"]
    assert (partner["scope_plan_id"], partner["scope_territory"]) == (None, None)
    for wording in ("vsgp", "Établissement public Vallée Sud Grand Paris", "la Vallée Sud Grand Paris"):
        assert await _resolved(app, wording) == partner["id"], wording


async def test_alias_or_name_of_another_partner_is_409(admin):
    await admin.post(
        "/v1/partners",
        json={"name": "Hauts-de-Seine Habitat", "kind": "bailleur_social", "aliases": ["HdS Habitat"]},
    )
    same_name = await admin.post("/v1/partners", json={"name": "Hauts-de-Seine Habitat", "kind": "other"})
    assert same_name.status_code == 409
    alias_clash = await admin.post(
        "/v1/partners", json={"name": "Autre bailleur", "kind": "bailleur_social", "aliases": ["hds habitat"]}
    )
    assert alias_clash.status_code == 409
    names = [p["name"] for p in (await admin.get("/v1/partners")).json()]
    assert names == ["Hauts-de-Seine Habitat"]


async def test_group_members_and_update(admin):
    plan = ok(await admin.post("/v1/plans", json={"title": "Plan", "commune": "Sceaux"}))
    a = ok(await admin.post("/v1/partners", json={"name": "Bailleur A", "kind": "bailleur_social"}))
    b = ok(await admin.post("/v1/partners", json={"name": "Bailleur B", "kind": "bailleur_social"}))
    group = ok(
        await admin.post(
            "/v1/partners",
            json={
                "name": "Bailleurs sociaux",
                "kind": "group",
                "member_ids": [a["id"]],
                "scope_plan_id": plan["id"],
            },
        )
    )
    assert group["is_group"] is True and group["scope_plan_id"] == plan["id"]
    updated = ok(await admin.patch(f"/v1/partners/{group['id']}", json={"member_ids": [a["id"], b["id"]]}))
    assert sorted(updated["member_ids"]) == sorted([a["id"], b["id"]])
    not_a_group = await admin.patch(f"/v1/partners/{a['id']}", json={"member_ids": [b["id"]]})
    assert not_a_group.status_code == 422
    groups = [p["name"] for p in (await admin.get("/v1/partners", params={"kind": "group"})).json()]
    assert groups == ["Bailleurs sociaux"]


async def test_siret_is_checked(admin):
    bad = await admin.post("/v1/partners", json={"name": "X", "kind": "other", "siret": "20005791500012"})
    assert bad.status_code == 422 and "siret" in bad.json()["detail"]
    good = await admin.post("/v1/partners", json={"name": "X", "kind": "other", "siret": "20005791500007"})
    assert good.status_code == 201


async def test_editing_names_and_aliases(app, admin):
    vsgp = ok(
        await admin.post(
            "/v1/partners",
            json={
                "name": "Vallée Sud Grand Paris",
                "kind": "etablissement_public_territorial",
                "aliases": ["VSGP", "EPT Vallée Sud"],
            },
        )
    )
    url = f"/v1/partners/{vsgp['id']}"

    def aliases(partner: dict[str, Any]) -> list[str]:
        return sorted(partner["aliases"])

    # Add one alias, keep the others.
    added = ok(await admin.patch(url, json={"aliases": ["VSGP", "EPT Vallée Sud", "Vallée Sud"]}))
    assert aliases(added) == ["EPT Vallée Sud", "VSGP", "Vallée Sud"]
    # The same alias spelt otherwise (same key): the spelling changes, in place.
    respelt = ok(await admin.patch(url, json={"aliases": ["Vsgp", "EPT Vallée Sud", "vallée sud"]}))
    assert aliases(respelt) == ["EPT Vallée Sud", "Vsgp", "vallée sud"]
    # Rename an alias, remove another.
    renamed = ok(
        await admin.patch(url, json={"aliases": ["Vsgp", "Établissement public territorial Vallée Sud"]})
    )
    assert aliases(renamed) == ["Vsgp", "Établissement public territorial Vallée Sud"]
    assert await _resolved(app, "EPT Vallée Sud") is None
    assert await _resolved(app, "établissement public territorial vallée sud") == vsgp["id"]
    # Rename the partner: the new name resolves; the former one only if kept as an alias.
    new_name = ok(await admin.patch(url, json={"name": "Vallée Sud – Grand Paris"}))
    assert new_name["name"] == "Vallée Sud – Grand Paris" and aliases(new_name) == aliases(renamed)
    assert await _resolved(app, "Vallée Sud Grand Paris") == vsgp["id"]  # same key: the name's, in place
    swapped = ok(await admin.patch(url, json={"name": "VSGP", "aliases": ["Vallée Sud Grand Paris"]}))
    assert (swapped["name"], swapped["aliases"]) == ("VSGP", ["Vallée Sud Grand Paris"])
    assert await _resolved(app, "Vallée Sud Grand Paris") == await _resolved(app, "vsgp") == vsgp["id"]
    assert await _resolved(app, "Établissement public territorial Vallée Sud") is None
    # Only name and kind: the aliases stay.
    assert ok(await admin.patch(url, json={"kind": "collectivite"}))["aliases"] == ["Vallée Sud Grand Paris"]

    # Another partner's name or alias is refused, and nothing changes.
    other = ok(
        await admin.post(
            "/v1/partners",
            json={"name": "Hauts-de-Seine Habitat", "kind": "bailleur_social", "aliases": ["HdS Habitat"]},
        )
    )
    before = ok(await admin.get(url))
    for change in (
        {"aliases": ["Vallée Sud Grand Paris", "hds habitat"]},
        {"name": "Hauts-de-Seine Habitat"},
        {"name": "HDS HABITAT"},
    ):
        refused = await admin.patch(url, json=change)
        assert refused.status_code == 409 and refused.json()["partner_id"] == other["id"], change
    assert ok(await admin.get(url)) == before
    assert await _resolved(app, "hds habitat") == other["id"]


async def test_editing_a_groups_aliases(admin):
    plan = ok(await admin.post("/v1/plans", json={"title": "Plan", "commune": "Sceaux"}))
    group = ok(
        await admin.post(
            "/v1/partners",
            json={
                "name": "Bailleurs sociaux",
                "kind": "group",
                "aliases": ["les bailleurs"],
                "scope_plan_id": plan["id"],
            },
        )
    )
    edited = ok(
        await admin.patch(
            f"/v1/partners/{group['id']}",
            json={"name": "Les bailleurs sociaux", "aliases": ["Bailleurs", "OPH"]},
        )
    )
    assert (edited["name"], sorted(edited["aliases"])) == ("Les bailleurs sociaux", ["Bailleurs", "OPH"])


async def test_the_same_partner_created_twice_at_once_is_one_201_and_one_409(admin):
    body = {"name": "Mission locale", "kind": "association", "aliases": ["ML"]}
    responses = await asyncio.gather(*(admin.post("/v1/partners", json=body) for _ in range(2)))
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    assert [p["name"] for p in (await admin.get("/v1/partners")).json()] == ["Mission locale"]
