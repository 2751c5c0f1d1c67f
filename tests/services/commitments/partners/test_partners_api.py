"""The partner directory: aliases resolve, names are unique, groups have members."""

from __future__ import annotations


async def test_create_partner_with_aliases_and_resolve_them(app, admin):
    response = await admin.post("/v1/partners", json={
        "name": "Vallée Sud Grand Paris", "kind": "etablissement_public_territorial",
        "aliases": ["VSGP", "l'établissement public Vallée Sud Grand Paris"], "siret": "20005791500007"})
    assert response.status_code == 201, response.text
    partner = response.json()
    assert partner["aliases"] == ["VSGP", "l'établissement public Vallée Sud Grand Paris"]
    from services.commitments.partners.service import resolve_by_name

    async with app.state.sessionmaker() as session:
        for wording in ("vsgp", "Établissement public Vallée Sud Grand Paris", "la Vallée Sud Grand Paris"):
            found = await resolve_by_name(session, wording)
            assert found is not None and str(found.id) == partner["id"], wording


async def test_alias_or_name_of_another_partner_is_409(admin):
    await admin.post("/v1/partners", json={"name": "Hauts-de-Seine Habitat", "kind": "bailleur_social",
                                           "aliases": ["HdS Habitat"]})
    same_name = await admin.post("/v1/partners", json={"name": "Hauts-de-Seine Habitat", "kind": "other"})
    assert same_name.status_code == 409
    alias_clash = await admin.post("/v1/partners", json={"name": "Autre bailleur", "kind": "bailleur_social",
                                                          "aliases": ["hds habitat"]})
    assert alias_clash.status_code == 409
    names = [p["name"] for p in (await admin.get("/v1/partners")).json()]
    assert names == ["Hauts-de-Seine Habitat"]


async def test_group_members_and_update(admin):
    a = (await admin.post("/v1/partners", json={"name": "Bailleur A", "kind": "bailleur_social"})).json()
    b = (await admin.post("/v1/partners", json={"name": "Bailleur B", "kind": "bailleur_social"})).json()
    group = await admin.post("/v1/partners", json={"name": "Bailleurs sociaux", "kind": "group",
                                                    "member_ids": [a["id"]]})
    assert group.status_code == 201 and group.json()["is_group"] is True
    updated = await admin.patch(f"/v1/partners/{group.json()['id']}", json={"member_ids": [a["id"], b["id"]]})
    assert sorted(updated.json()["member_ids"]) == sorted([a["id"], b["id"]])
    not_a_group = await admin.patch(f"/v1/partners/{a['id']}", json={"member_ids": [b["id"]]})
    assert not_a_group.status_code == 422
    groups = [p["name"] for p in (await admin.get("/v1/partners", params={"kind": "group"})).json()]
    assert groups == ["Bailleurs sociaux"]


async def test_siret_is_checked(admin):
    bad = await admin.post("/v1/partners", json={"name": "X", "kind": "other", "siret": "20005791500012"})
    assert bad.status_code == 422 and "siret" in bad.json()["detail"]
    good = await admin.post("/v1/partners", json={"name": "X", "kind": "other", "siret": "20005791500007"})
    assert good.status_code == 201
