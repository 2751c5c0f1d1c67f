"""The plan text parser on three whole plans (each beside its expected parse) and on small made-up plans."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.commitments.plans import plan_text
from services.commitments.plans.plan_text import (
    ParsedItem,
    ParsedPlan,
    PartyName,
    TargetDate,
    parse_plan_text,
)
from tests.services.commitments.plans.made_up_plans import FLAG_CODES, only_item

SEED = Path(plan_text.__file__).parent / "sample_data" / "plan-action-blagis.txt"
FIXTURES = Path(__file__).parent / "fixtures"
# Each plan's text and the JSON file of its expected parse (the Blagis plan is the sample data itself).
PLANS = {
    "blagis": (SEED, FIXTURES / "plan-action-blagis.json"),
    "tilleuls": (FIXTURES / "plan-action-tilleuls.txt", FIXTURES / "plan-action-tilleuls.json"),
    "hauts-de-rive": (FIXTURES / "programme-hauts-de-rive.txt", FIXTURES / "programme-hauts-de-rive.json"),
}


def _party(party: PartyName | None) -> str | dict[str, Any] | None:
    """A party as the expected files write it: its name alone, or with what is not the default."""
    if party is None:
        return None
    extra = {
        key: value
        for key, value in (
            ("acronym", party.acronym),
            ("is_group", party.is_group),
            ("uncertain", party.uncertain),
        )
        if value
    }
    return {"name": party.name, **extra} if extra else party.name


def _as_expected(plan: ParsedPlan, reference_date: date | None) -> dict[str, Any]:
    return {
        "reference_date": reference_date.isoformat() if reference_date else None,
        "title": plan.title,
        "axes": [
            {
                "number": axis.number,
                "title": axis.title,
                "objectives": [
                    {
                        "letter": objective.letter,
                        "title": objective.title,
                        "items": [
                            {
                                "key": item.source_key,
                                "kind": item.kind,
                                "lead": _party(item.lead_partner),
                                "associated": [_party(party) for party in item.associated_partners],
                                "target": {"on": item.target.on.isoformat(), "wording": item.target.wording}
                                if item.target
                                else None,
                                "flags": [flag.code for flag in item.flags],
                            }
                            for item in objective.items
                        ],
                    }
                    for objective in axis.objectives
                ],
            }
            for axis in plan.axes
        ],
    }


def _parse_fixture(name: str) -> tuple[ParsedPlan, dict[str, Any]]:
    text_path, expected_path = PLANS[name]
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    reference = date.fromisoformat(expected["reference_date"]) if expected["reference_date"] else None
    return parse_plan_text(text_path.read_text(encoding="utf-8"), reference), expected


@pytest.mark.parametrize("name", list(PLANS))
def test_each_plan_parses_to_its_expected_result(name: str) -> None:
    plan, expected = _parse_fixture(name)
    reference = date.fromisoformat(expected["reference_date"]) if expected["reference_date"] else None
    assert _as_expected(plan, reference) == expected


@pytest.mark.parametrize("name", list(PLANS))
def test_every_item_is_verbatim_and_its_flags_are_documented(name: str) -> None:
    plan, _ = _parse_fixture(name)
    text = " ".join(PLANS[name][0].read_text(encoding="utf-8").split())
    items = [item for axis in plan.axes for objective in axis.objectives for item in objective.items]
    assert all(item.text in text for item in items)
    assert {flag.code for item in items for flag in item.flags} <= FLAG_CODES
    assert all(flag.message and flag.message[0].islower() for item in items for flag in item.flags)
    assert all(item.needs_review == bool(item.flags) for item in items)
    assert all(item.review_reasons == tuple(flag.message for flag in item.flags) for item in items)
    assert all(
        party.name == party.name.strip(" ,;:.…") and party.name[:3].lower() not in {"la ", "le ", "les"}
        for item in items
        for party in (item.lead_partner, *item.associated_partners)
        if party
    )


def test_the_fixtures_cover_every_flag_and_both_kinds() -> None:
    items = [
        item
        for name in PLANS
        for axis in _parse_fixture(name)[0].axes
        for objective in axis.objectives
        for item in objective.items
    ]
    assert {flag.code for item in items for flag in item.flags} == FLAG_CODES
    assert {item.kind for item in items} == {"request", "commitment"}
    assert any(
        party.is_group for item in items for party in (item.lead_partner, *item.associated_partners) if party
    )


# --- the Blagis plan ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_plan() -> ParsedPlan:
    return parse_plan_text(SEED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def seed_items(seed_plan: ParsedPlan) -> dict[str, ParsedItem]:
    objectives = [objective for axis in seed_plan.axes for objective in axis.objectives]
    return {item.source_key: item for objective in objectives for item in objective.items}


def test_seed_has_two_axes_eleven_objectives_and_twenty_five_items(seed_plan: ParsedPlan) -> None:
    assert [(axis.number, axis.title) for axis in seed_plan.axes] == [
        ("I", "BIEN VIVRE AUX BLAGIS"),
        ("II", "BIEN RÉUSSIR AUX BLAGIS"),
    ]
    letters = ["".join(objective.letter for objective in axis.objectives) for axis in seed_plan.axes]
    assert letters == ["ABCDE", "ABCDEF"]
    assert [sum(len(objective.items) for objective in axis.objectives) for axis in seed_plan.axes] == [13, 12]


def test_objective_titles_survive_the_separators_of_the_extraction(seed_plan: ParsedPlan) -> None:
    first, second = seed_plan.axes
    assert first.objectives[0].title.startswith("AMÉLIORER LE CADRE DE VIE")  # "A | "
    assert first.objectives[1].title.startswith("REDYNAMISER LE CENTRE COMMERCIAL")  # "B I ", bar read as I
    assert first.objectives[4].title.startswith("RENFORCER L'ATTRACTIVITÉ")  # "E ", no separator
    assert second.objectives[5].title == "SOUTENIR ET VALORISER LES TALENTS DU QUARTIER"  # "F I "


def test_the_leads_of_the_seed_are_named_as_written(seed_items: dict[str, ParsedItem]) -> None:
    leads = {key: item.lead_partner.name for key, item in seed_items.items() if item.lead_partner}
    assert leads == {
        "I.A.1": "bailleurs sociaux",
        "I.A.2": "bailleurs",
        "I.B.2": "Hauts-de-Seine Habitat",
        "I.C.1": "État",
        "I.C.2": "bailleurs sociaux",
        "I.D.2": "établissement public Vallée Sud Grand Paris",
        "II.B.2": "État",
        "II.C.2": "CSCB",
        "II.D.2": "Centre social et culturel des Blagis",
        "II.D.3": "Vallée Sud Grand Paris",
    }
    assert all(seed_items[key].kind == "request" for key in leads)
    assert sum(item.kind == "commitment" for item in seed_items.values()) == 15
    assert seed_items["I.A.1"].lead_partner == PartyName(
        "bailleurs sociaux", None, is_group=True, uncertain=False
    )


def test_people_are_not_partners(seed_items: dict[str, ParsedItem]) -> None:
    # "en lien avec les habitants", "les acteurs du quartier", "l'appui des médiateurs socio-éducatifs".
    assert [seed_items[key].associated_partners for key in ("I.A.2", "I.D.1", "II.E.2", "II.F.1")] == [()] * 4
    assert [party.name for party in seed_items["I.C.3"].associated_partners] == [
        "département des Hauts-de-Seine"
    ]


def test_a_request_that_also_commits_the_city_is_flagged(seed_items: dict[str, ParsedItem]) -> None:
    flag = seed_items["II.C.2"].flags[0]
    assert flag.code == "request-and-commitment" and "« s'engage à soutenir" in flag.message
    assert "« poursuivra son soutien" in seed_items["II.D.2"].flags[0].message


def test_a_request_to_an_open_list_of_partners_is_flagged(seed_items: dict[str, ParsedItem]) -> None:
    item = seed_items["II.D.3"]
    assert [flag.code for flag in item.flags] == ["addressees-from-list", "open-list"]
    assert (
        "« ses partenaires »" in item.flags[0].message and "Vallée Sud Grand Paris" in item.flags[0].message
    )


def test_target_date_of_the_postal_agency(seed_items: dict[str, ParsedItem]) -> None:
    assert seed_items["II.B.1"].target == TargetDate(
        date(2021, 9, 22), "dès l'automne 2021", "début de l'automne"
    )


def test_context_keeps_the_paragraphs_under_an_objective(seed_plan: ParsedPlan) -> None:
    tranquility = seed_plan.axes[0].objectives[2]
    assert tranquility.context.startswith("Les habitants du quartier des Blagis souffrent")
    assert tranquility.context.split("\n\n")[1].startswith("Cette situation nécessite une stratégie globale")
    assert seed_plan.axes[0].objectives[0].context == ""


def test_texts_are_verbatim(seed_items: dict[str, ParsedItem]) -> None:
    assert seed_items["I.B.2"].text == (
        "La Ville demande à Hauts-de-Seine Habitat, propriétaire des murs, de définir et mettre en œuvre un "
        "programme ambitieux de rénovation et redynamisation du centre commercial"
    )
    # This bullet lost its dash in the extraction and starts with a space.
    assert seed_items["II.A.1"].text.startswith("La Ville apportera son soutien logistique aux événements")


def test_titles_drop_the_city_and_its_addressee(seed_items: dict[str, ParsedItem]) -> None:
    assert seed_items["I.B.2"].title == (
        "Définir et mettre en œuvre un programme ambitieux de rénovation et redynamisation…"
    )
    assert (
        seed_items["II.B.1"].title
        == "Ouvrir dès l'automne 2021 une agence postale communale dans le quartier"
    )
    assert seed_items["II.B.2"].title == "La possibilité d'ouvrir une maison France services"
    assert seed_items["I.E.1"].title == "Organiser des évènements récurrents propres aux Blagis"
    assert seed_items["II.F.2"].title.startswith("S'attacher à conforter l'expression d'artistes")
    assert all(len(item.title) <= 90 for item in seed_items.values())


def test_parsing_is_deterministic_and_hashable() -> None:
    text = SEED.read_text(encoding="utf-8")
    assert parse_plan_text(text) == parse_plan_text(text)
    assert hash(parse_plan_text(text)) == hash(parse_plan_text(text))


def test_the_parser_knows_no_directory() -> None:
    source = Path(plan_text.__file__).parent
    readers = [source / "plan_text.py", *sorted((source / "reading").glob("*.py"))]
    for reader in readers:
        code = reader.read_text(encoding="utf-8")
        assert "known_partners" not in code and "Blagis" not in code and "Hauts-de-Seine" not in code, reader


# --- any text ----------------------------------------------------------------------------------------


def test_any_bullet_is_read_without_error() -> None:
    """Seeded random bullets from the fixtures' words: every one is classified, every name has words."""
    words = " ".join(path.read_text(encoding="utf-8") for path, _ in PLANS.values()).split()
    words += ["(", ")", ",", "et", "à", "de", "d'", "l'", "s'", "...", "(CPAM)", "1er", "2026", "que", "qu'"]
    starts = [
        "La Ville demande à",
        "La Ville invite",
        "La Ville sollicite",
        "La Ville souhaite que",
        "La Ville attend de",
        "La Ville s'engage à",
        "La Ville et le",
        "La Ville,",
        ("La Ville demande à ses partenaires ("),
        "Demander à",
        "",
    ]
    generator = random.Random(9)
    for _ in range(600):
        bullet = (
            f"{generator.choice(starts)} {' '.join(generator.choices(words, k=generator.randint(0, 20)))}"
        )
        item = only_item(f"- {bullet.strip() or 'x'}", reference_date=date(2025, 1, 1))
        assert item.kind in {"request", "commitment"}
        assert {flag.code for flag in item.flags} <= FLAG_CODES
        assert all(party.name.strip() for party in (item.lead_partner, *item.associated_partners) if party)
