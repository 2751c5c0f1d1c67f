"""The layout reader: headings of several styles, bullets, wrapped lines, context, and what it refuses."""

from __future__ import annotations

import random

import pytest

from services.commitments.plans.plan_text import PlanTextError, ReviewFlag, parse_plan_text
from tests.services.commitments.plans.made_up_plans import only_item, plan_of


def test_a_bullet_wrapped_across_two_lines_is_one_item() -> None:
    item = only_item(
        "- La Ville demande au département des Hauts-de-Seine de financer\n"
        "  un équipement sportif en lien avec le CSCB et les habitants"
    )
    assert item.text == (
        "La Ville demande au département des Hauts-de-Seine de financer "
        "un équipement sportif en lien avec le CSCB et les habitants"
    )
    assert item.lead_partner is not None and item.lead_partner.name == "département des Hauts-de-Seine"
    assert [party.name for party in item.associated_partners] == ["CSCB"] and item.flags == ()


def test_a_line_after_a_bullet_that_may_continue_it_is_flagged() -> None:
    plan = plan_of("- La Ville mettra en place un dispositif\nHauts-de-Seine Habitat y participera.")
    objective = plan.axes[0].objectives[0]
    assert objective.items[0].text == "La Ville mettra en place un dispositif"
    assert objective.context == "Hauts-de-Seine Habitat y participera."
    assert [flag.code for flag in objective.items[0].flags] == ["layout"]
    assert "ligne 8 « Hauts-de-Seine Habitat y participera" in objective.items[0].flags[0].message


def test_uppercase_titles_wrapped_onto_the_next_line_are_joined() -> None:
    plan = parse_plan_text(
        "PLAN\n\nI. PREMIER AXE\nSUR DEUX LIGNES\n\nA | UN OBJECTIF\nQUI CONTINUE\n"
        "B | UN AUTRE\n- La Ville ouvrira une crèche\n"
    )
    axis = plan.axes[0]
    assert axis.title == "PREMIER AXE SUR DEUX LIGNES"
    assert [(objective.letter, objective.title) for objective in axis.objectives] == [
        ("A", "UN OBJECTIF QUI CONTINUE"),
        ("B", "UN AUTRE"),
    ]


def test_an_objective_letter_that_is_also_a_roman_numeral() -> None:
    plan = parse_plan_text(
        "PLAN\n\nI. AXE UN\n\nA | PREMIER\n\nB | DEUXIÈME\n\nC. TROISIÈME\n\n"
        "- La Ville ouvrira une crèche\n\nII. AXE DEUX\n"
    )
    assert [axis.number for axis in plan.axes] == ["I", "II"]
    assert [objective.letter for objective in plan.axes[0].objectives] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("layout", "keys"),
    [
        (
            (
                "AXE 1 – Se loger\n\nObjectif A : Rénover\n\n• La Ville ouvrira une crèche\n\n"
                "AXE 2 – Se soigner\n\nObjectif A : Soigner\n\n• La Ville ouvrira un centre\n"
            ),
            ["1.A.1", "2.A.1"],
        ),
        ("Axe II : Se loger\n", None),
        (
            (
                "Axe I : Se loger\n\nA. Rénover les logements\n\n1) La Ville ouvrira une crèche\n"
                "2) La Ville ouvrira un centre\n\nB. Soigner\n\n* La Ville ouvrira une école\n"
            ),
            ["I.A.1", "I.A.2", "I.B.1"],
        ),
        (
            (
                "I. Bien vivre\n\n1.1 Rénover\n\n- La Ville ouvrira une crèche\n\n1.2 - Soigner\n\n"
                "- La Ville ouvrira un centre\n\nII. Bien grandir\n\nObjectif 2.1 : Grandir\n\n- La Ville ouvrira une école\n"
            ),
            ["I.1.1", "I.2.1", "II.1.1"],
        ),
        ("AXE 1\nHabiter\n\nOBJECTIF 1 – Rénover\n\n- La Ville ouvrira une crèche\n", ["1.1.1"]),
    ],
)
def test_other_layouts(layout: str, keys: list[str] | None) -> None:
    plan = parse_plan_text(f"Programme d'actions\n\n{layout}")
    found = [
        item.source_key for axis in plan.axes for objective in axis.objectives for item in objective.items
    ]
    assert found == (keys or [])
    if keys and keys[0] == "1.1.1":
        assert (plan.axes[0].title, plan.axes[0].objectives[0].title) == ("Habiter", "Rénover")


def test_a_line_introducing_bullets_is_context() -> None:
    objective = plan_of("La Ville souhaite :\n\n- La Ville ouvrira une crèche").axes[0].objectives[0]
    assert objective.context == "La Ville souhaite :" and len(objective.items) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "aucun axe"),
        ("Un courrier\n\nMadame, Monsieur,\n", "aucun axe"),
        ("PLAN\n\nI. AXE\n\n- La Ville ouvrira une crèche\n", "ligne 5 : puce hors de tout objectif"),
        ("PLAN\n\nObjectif A : Rénover\n", "ligne 3 : objectif « A » avant tout axe"),
        (
            "PLAN\n\nAXE 1 – Un\n\nObjectif A : X\n\nObjectif A : Y\n",
            "ligne 7 : l'objectif A apparaît deux fois",
        ),
        ("PLAN\n\nAXE 1 – Un\n\nAXE 1 – Deux\n", "ligne 5 : l'axe 1 apparaît deux fois"),
        ("PLAN\n\nAXE 1 – Un\n\n2.1 Rénover\n", "ligne 5 : objectif « 2.1 » sous l'axe 1"),
    ],
)
def test_text_that_is_not_a_supported_plan_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(PlanTextError, match=message):
        parse_plan_text(text)


def test_review_flags_are_plain_values() -> None:
    flag = ReviewFlag("layout", "ligne 3")
    assert flag == ReviewFlag("layout", "ligne 3") and hash(flag) == hash(ReviewFlag("layout", "ligne 3"))


def test_any_layout_is_read_or_refused_with_plan_text_error() -> None:
    lines = [
        "PLAN",
        "",
        "I. AXE UN",
        "II. AXE DEUX",
        "AXE 3 – Trois",
        "AXE 1",
        "A | OBJ",
        "B I OBJ",
        "C. Obj",
        "Objectif A : x",
        "Objectif 1.2 : y",
        "1.1 Titre",
        "2.1 Titre",
        "- La Ville demande à l'État de",
        "• La commune va créer",
        "1) La Ville ouvrira",
        "  suite en minuscule",
        "Contexte",
        "E TITRE",
        "—",
    ]
    generator = random.Random(4)
    read = refused = 0
    for _ in range(2000):
        text = "\n".join(generator.choices(lines, k=generator.randint(0, 14)))
        try:
            plan = parse_plan_text(text)
        except PlanTextError:
            refused += 1
            continue
        read += 1
        keys = [
            item.source_key for axis in plan.axes for objective in axis.objectives for item in objective.items
        ]
        assert len(keys) == len(set(keys)), text
    assert read and refused
