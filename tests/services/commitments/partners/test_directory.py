"""Loading a directory file: the sample of Sceaux, idempotent, completing what is there, refusing what is not
a directory."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.commitments.partners.directory import DirectoryFile
from tests.services.commitments.sample_data import sample_directory


async def test_the_sample_directory_loads_once(load_directory, partners_by_name, outbox_count):
    first = await load_directory()
    sample = sample_directory()
    assert sorted(first.created) == sorted(
        [p.name for p in sample.partners] + [g.name for g in sample.groups]
    )
    assert (first.completed, first.warnings) == ([], [])
    partners = await partners_by_name()
    assert partners["Vallée Sud Grand Paris"]["kind"] == "etablissement_public_territorial"
    assert sorted(partners["Vallée Sud Grand Paris"]["aliases"]) == sorted(
        [
            "VSGP",
            "l'établissement public Vallée Sud Grand Paris",
            "établissement public territorial Vallée Sud Grand Paris",
        ]
    )
    assert partners["Bailleurs sociaux"]["member_ids"] == [partners["Hauts-de-Seine Habitat"]["id"]]
    assert partners["Communes voisines"]["scope_territory"] == "Quartier des Blagis"

    events = await outbox_count()
    again = await load_directory()
    assert (again.created, again.completed, again.warnings) == ([], [], [])
    assert len(again.unchanged) == len(first.created)
    assert await outbox_count() == events and await partners_by_name() == partners


async def test_a_directory_completes_what_is_there_and_removes_nothing(
    admin, load_directory, partners_by_name
):
    await load_directory()
    # People edited the directory since: an alias of their own, a member of their own.
    partners = await partners_by_name()
    hdsh = partners["Hauts-de-Seine Habitat"]
    await admin.patch(f"/v1/partners/{hdsh['id']}", json={"aliases": [*hdsh["aliases"], "HSH"]})
    other = (
        await admin.post("/v1/partners", json={"name": "Sceaux Habitat", "kind": "bailleur_social"})
    ).json()
    group = partners["Bailleurs sociaux"]
    await admin.patch(f"/v1/partners/{group['id']}", json={"member_ids": [*group["member_ids"], other["id"]]})

    report = await load_directory(
        DirectoryFile.model_validate(
            {
                "partners": [
                    {
                        "name": "Hauts-de-Seine Habitat",
                        "kind": "bailleur_social",
                        "acronym": "HdSH",
                        "aliases": ["Sceaux Habitat"],
                    },  # another partner's name: ignored, said
                    {"name": "Antony Habitat", "kind": "bailleur_social"},
                ],
                "groups": [
                    {
                        "name": "les bailleurs sociaux",
                        "scope": {"territory": "quartier des blagis"},
                        "members": ["Antony Habitat", "Inconnu"],
                    },
                    {
                        "name": "Bailleurs sociaux",
                        "scope": {"territory": "Centre-ville"},
                        "members": ["HdSH"],
                    },
                ],
            }
        )
    )
    assert report.created == ["Antony Habitat", "Bailleurs sociaux"]
    assert report.completed == ["Hauts-de-Seine Habitat", "Bailleurs sociaux"]
    assert (
        len(report.warnings) == 2
        and "Sceaux Habitat" in report.warnings[0]
        and "Inconnu" in report.warnings[1]
    )
    after = {p["id"]: p for p in (await admin.get("/v1/partners")).json()}
    assert sorted(after[hdsh["id"]]["aliases"]) == sorted([*hdsh["aliases"], "HSH", "HdSH"])
    antony = next(p for p in after.values() if p["name"] == "Antony Habitat")
    assert sorted(after[group["id"]]["member_ids"]) == sorted([hdsh["id"], other["id"], antony["id"]])
    centre = next(p for p in after.values() if p["scope_territory"] == "Centre-ville")
    assert centre["name"] == "Bailleurs sociaux" and centre["member_ids"] == [hdsh["id"]]


def test_what_is_not_a_directory_is_refused() -> None:
    for body in (
        {"partners": [{"name": "X", "kind": "group"}]},  # a group among organisations
        {"groups": [{"name": "G"}]},  # a group without scope
        {
            "groups": [
                {"name": "G", "scope": {"territory": "T", "plan_id": "01a214bb-8702-7000-abee-62cd37c4247d"}}
            ]
        },
        {"partners": [{"name": "X", "kind": "other", "unknown": 1}]},
        {"format": "autre/2"},
    ):
        with pytest.raises(ValidationError):
            DirectoryFile.model_validate(body)
