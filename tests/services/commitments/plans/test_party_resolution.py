"""How the importer turns what the reader found into items: names resolved by name, alias or acronym, partners
added and flagged, associated partners kept, the reader's own flags kept with their codes.

The plan comes in as the reader's dataclasses, built here by hand, so that these rules are tested apart from
the reading of French phrasing (tests/services/commitments/plans/test_plan_text.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.commitments.plans.importer import ImportReport, import_parsed_plan
from services.commitments.plans.plan_text import (
    ParsedAxis,
    ParsedItem,
    ParsedObjective,
    ParsedPlan,
    PartyName,
    ReviewFlag,
    TargetDate,
)
from shared.auth import SYSTEM


def party(
    name: str, acronym: str | None = None, is_group: bool = False, uncertain: bool = False
) -> PartyName:
    return PartyName(name=name, acronym=acronym, is_group=is_group, uncertain=uncertain)


def item(
    position: int,
    text: str,
    kind: str = "request",
    lead: PartyName | None = None,
    associated: tuple[PartyName, ...] = (),
    flags: tuple[ReviewFlag, ...] = (),
    target: TargetDate | None = None,
) -> ParsedItem:
    return ParsedItem(
        position=position,
        source_key=f"I.A.{position}",
        text=text,
        title=text[:60],
        kind=kind,
        lead_partner=lead,
        associated_partners=associated,
        target=target,
        flags=flags,
    )


def plan(*items: ParsedItem) -> ParsedPlan:
    return ParsedPlan(
        title="PLAN D'ACTION", axes=(ParsedAxis("I", "AXE", (ParsedObjective("A", "OBJECTIF", "", items),)),)
    )


async def _import(
    app: Any, clock: Any, parsed: ParsedPlan, fingerprint: str = "f" * 64, **options: Any
) -> ImportReport:
    async with app.state.sessionmaker() as session, session.begin():
        return await import_parsed_plan(
            session,
            SYSTEM,
            clock,
            parsed,
            fingerprint,
            **({"commune": "Sceaux", "territory": "Quartier des Blagis"} | options),
        )


def _codes(found: dict[str, Any]) -> list[str]:
    return [flag["code"] for flag in found["review_flags"]]


async def test_names_resolve_as_written_by_alias_and_by_acronym(app, clock, admin, load_directory, items_of):
    await load_directory()
    partners = {p["name"]: p["id"] for p in (await admin.get("/v1/partners")).json()}
    report = await _import(
        app,
        clock,
        plan(
            item(1, "La Ville demande à l'État …", lead=party("État")),
            item(
                2,
                "La Ville demande à l'établissement public Vallée Sud Grand Paris …",
                lead=party("établissement public Vallée Sud Grand Paris"),
            ),
            item(3, "La Ville demande au CSCB …", lead=party("CSCB")),
            # Written otherwise than in the directory, but the acronym in parentheses is known.
            item(
                4,
                "La Ville demande au Centre social des Blagis (CSCB) …",
                lead=party("Centre social des Blagis (CSCB)", acronym="CSCB"),
            ),
            item(
                5,
                "La Ville demande à l'École de la 2e chance (E2C) …",
                lead=party("école de la 2e chance (E2C)", acronym="E2C"),
            ),
            item(6, "La Ville demande aux bailleurs …", lead=party("bailleurs", is_group=True)),
        ),
    )
    assert (report.created_partners, report.flagged) == ([], [])
    items = await items_of(report.plan_id)
    assert [items[f"I.A.{n}"]["lead_partner_id"] for n in range(1, 7)] == [
        partners["État"],
        partners["Vallée Sud Grand Paris"],
        *[partners["Centre social et culturel des Blagis (CSCB)"]] * 2,
        partners["École de la deuxième chance"],
        partners["Bailleurs sociaux"],
    ]


async def test_unknown_names_are_added_flagged_and_associated_partners_kept(
    app, clock, admin, load_directory, items_of
):
    await load_directory()
    uncertain = ReviewFlag("partner-name-uncertain", "Fin du nom incertaine : « Caisse primaire … »")
    report = await _import(
        app,
        clock,
        plan(
            item(
                1,
                "La Ville demande à la Caisse primaire d'assurance maladie (CPAM) …",
                lead=party("Caisse primaire d'assurance maladie (CPAM)", acronym="CPAM", uncertain=True),
                associated=(party("État"), party("Mission locale")),
                flags=(uncertain,),
            ),
            item(
                2,
                "La Ville organisera … en lien avec la CPAM et les associations de quartier",
                kind="commitment",
                associated=(party("CPAM"), party("associations de quartier", is_group=True)),
            ),
            item(3, "La Ville demande à ses partenaires …", lead=None, associated=(party("Mission locale"),)),
            item(
                4,
                "La Ville organisera … avant l'automne 2025",
                kind="commitment",
                target=TargetDate(
                    on=date(2025, 9, 21), wording="avant l'automne 2025", rule="veille de l'automne"
                ),
            ),
        ),
    )
    partners = {p["name"]: p for p in (await admin.get("/v1/partners")).json()}
    cpam = partners["Caisse primaire d'assurance maladie (CPAM)"]
    assert (
        sorted(cpam["aliases"]) == ["CPAM", "Caisse primaire d'assurance maladie"] and cpam["kind"] == "other"
    )
    quarter = partners["associations de quartier"]
    assert (
        quarter["is_group"]
        and quarter["member_ids"] == []
        and quarter["scope_plan_id"] == str(report.plan_id)
    )
    assert sorted(report.created_partners) == sorted(
        ["Caisse primaire d'assurance maladie (CPAM)", "Mission locale", "associations de quartier"]
    )
    items = await items_of(report.plan_id)
    first, second, third, fourth = (items[f"I.A.{n}"] for n in range(1, 5))
    assert first["lead_partner_id"] == cpam["id"]
    assert first["associated_partner_ids"] == sorted(
        [partners["État"]["id"], partners["Mission locale"]["id"]]
    )
    # The reader's flag first, with its code; then one per partner added.
    assert _codes(first) == ["partner-name-uncertain", "partner-created", "partner-created"]
    assert (
        "CPAM" in first["review_flags"][1]["message"]
        and "Mission locale" in first["review_flags"][2]["message"]
    )
    assert first["review_reason"].splitlines()[0] == uncertain.message
    # A city commitment keeps its associated partners; the CPAM added for item 1 is found by its acronym.
    assert second["kind"] == "commitment" and second["lead_partner_id"] is None
    assert sorted(second["associated_partner_ids"]) == sorted([cpam["id"], quarter["id"]])
    assert _codes(second) == ["partner-created", "partner-created", "group-without-members"]
    # A request whose partner was not found is kept, as a commitment to correct, not dropped.
    assert third["kind"] == "commitment" and "request-without-partner" in _codes(third)
    assert third["associated_partner_ids"] == [partners["Mission locale"]["id"]]
    assert fourth["review_flags"] == [] and not fourth["needs_review"]
    deadlines = (await admin.get(f"/v1/items/{fourth['id']}/deadlines")).json()
    assert [(d["due_on"], d["original_wording"]) for d in deadlines] == [
        ("2025-09-21", "avant l'automne 2025")
    ]
    assert {f.reference: [flag.code for flag in f.flags] for f in report.flagged} == {
        ref: _codes(items[ref]) for ref in ("I.A.1", "I.A.2", "I.A.3")
    }


async def test_a_group_unknown_to_the_plan_is_created_empty_for_it(
    app, clock, admin, load_directory, items_of
):
    """Another plan's group of the same name is never used, nor are its members copied."""
    await load_directory()
    report = await _import(
        app,
        clock,
        plan(
            item(
                1, "La Ville demande aux bailleurs sociaux …", lead=party("bailleurs sociaux", is_group=True)
            )
        ),
        territory="Centre-ville",
    )
    groups = [
        p
        for p in (await admin.get("/v1/partners", params={"kind": "group"})).json()
        if p["name"].lower() == "bailleurs sociaux"
    ]
    assert len(groups) == 2
    [blagis] = [g for g in groups if g["scope_territory"] == "Quartier des Blagis"]
    [ours] = [g for g in groups if g["scope_plan_id"] == str(report.plan_id)]
    assert blagis["member_ids"] and ours["member_ids"] == []
    found = (await items_of(report.plan_id))["I.A.1"]
    assert found["lead_partner_id"] == ours["id"]
    assert _codes(found) == ["partner-created", "group-without-members"]


async def test_a_name_only_another_plans_group_bears_becomes_a_group_of_this_plan(
    app, clock, admin, load_directory, items_of
):
    """The reader did not see a collective, but an organisation may not take a group's name."""
    await load_directory()
    report = await _import(
        app,
        clock,
        plan(item(1, "La Ville demande aux bailleurs sociaux …", lead=party("bailleurs sociaux"))),
        territory="Ailleurs",
    )
    found = (await items_of(report.plan_id))["I.A.1"]
    lead = (await admin.get(f"/v1/partners/{found['lead_partner_id']}")).json()
    assert lead["is_group"] and lead["scope_plan_id"] == str(report.plan_id) and lead["member_ids"] == []
    assert _codes(found) == ["partner-created", "group-without-members"]
    assert "autre plan" in found["review_flags"][0]["message"]


@pytest.mark.parametrize("adopted_on", [None, date(2021, 6, 24)])
async def test_the_adoption_date_is_kept_on_a_new_plan(app, clock, admin, adopted_on):
    report = await _import(
        app, clock, plan(item(1, "La Ville organisera …", kind="commitment")), adopted_on=adopted_on
    )
    shown = (await admin.get(f"/v1/plans/{report.plan_id}")).json()
    assert shown["adopted_on"] == (adopted_on.isoformat() if adopted_on else None)
