"""Unit tests of the plan text parser and classifier, on the Blagis plan and on small made-up plans."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.commitments.plans import plan_text
from services.commitments.plans.plan_text import (
    KNOWN_PARTNERS,
    ParsedItem,
    ParsedPlan,
    PlanTextError,
    TargetDate,
    parse_plan_text,
    parse_target_date,
    resolve_partner_name,
)

SEED = Path(plan_text.__file__).parent / "sample_data" / "plan-action-blagis.txt"
CSCB = "Centre social et culturel des Blagis (CSCB)"

REQUESTS = {
    "I.A.1": ("Bailleurs sociaux", ()),
    "I.A.2": ("Bailleurs sociaux", ()),
    "I.B.2": ("Hauts-de-Seine Habitat", ()),
    "I.C.1": ("État", ("Procureur de la République", "Communes voisines", "Bailleurs sociaux")),
    "I.C.2": ("Bailleurs sociaux", ()),
    "I.D.2": ("Vallée Sud Grand Paris", ()),
    "II.B.2": ("État", ()),
    "II.C.2": (CSCB, ()),
    "II.D.2": (CSCB, ()),
    "II.D.3": ("Vallée Sud Grand Paris", ("Vallée Sud Emploi", "École de la deuxième chance")),
}


@pytest.fixture(scope="module")
def seed_plan() -> ParsedPlan:
    return parse_plan_text(SEED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def seed_items(seed_plan: ParsedPlan) -> dict[str, ParsedItem]:
    objectives = [objective for axis in seed_plan.axes for objective in axis.objectives]
    return {item.source_key: item for objective in objectives for item in objective.items}


def _plan(bullets: str, objective: str = "A | OBJECTIF") -> ParsedPlan:
    return parse_plan_text(f"PLAN D'ACTION\n\nI. AXE\n\n{objective}\n\n{bullets}\n")


def _only_item(bullets: str) -> ParsedItem:
    (item,) = _plan(bullets).axes[0].objectives[0].items
    return item


# --- the Blagis plan ------------------------------------------------------------------------------


def test_seed_has_two_axes_eleven_objectives_and_twenty_five_items(seed_plan: ParsedPlan) -> None:
    assert seed_plan.title == "PLAN D'ACTION"
    assert [(axis.number, axis.title) for axis in seed_plan.axes] == [
        ("I", "BIEN VIVRE AUX BLAGIS"), ("II", "BIEN RÉUSSIR AUX BLAGIS")]
    letters = ["".join(objective.letter for objective in axis.objectives) for axis in seed_plan.axes]
    assert letters == ["ABCDE", "ABCDEF"]
    assert [sum(len(objective.items) for objective in axis.objectives) for axis in seed_plan.axes] == [13, 12]


def test_objective_titles_survive_the_separators_of_the_extraction(seed_plan: ParsedPlan) -> None:
    first, second = seed_plan.axes
    assert first.objectives[0].title.startswith("AMÉLIORER LE CADRE DE VIE")  # "A | "
    assert first.objectives[1].title.startswith("REDYNAMISER LE CENTRE COMMERCIAL")  # "B I ", bar read as I
    assert first.objectives[4].title.startswith("RENFORCER L'ATTRACTIVITÉ")  # "E ", no separator
    assert second.objectives[5].title == "SOUTENIR ET VALORISER LES TALENTS DU QUARTIER"  # "F I "


def test_source_keys_number_items_within_their_objective(seed_items: dict[str, ParsedItem]) -> None:
    assert list(seed_items)[:6] == ["I.A.1", "I.A.2", "I.A.3", "I.A.4", "I.B.1", "I.B.2"]
    assert all(item.source_key.endswith(f".{item.position}") for item in seed_items.values())
    assert len(seed_items) == 25


@pytest.mark.parametrize(("source_key", "lead", "associated"),
                         [(key, lead, associated) for key, (lead, associated) in REQUESTS.items()])
def test_requests_and_their_partners(seed_items: dict[str, ParsedItem], source_key: str, lead: str,
                                     associated: tuple[str, ...]) -> None:
    item = seed_items[source_key]
    assert (item.kind, item.lead_partner, item.associated_partners) == ("request", lead, associated)


def test_every_other_item_is_a_commitment_of_the_city(seed_items: dict[str, ParsedItem]) -> None:
    commitments = {key for key, item in seed_items.items() if item.kind == "commitment"}
    assert commitments == set(seed_items) - set(REQUESTS)
    assert len(commitments) == 15
    assert all(seed_items[key].lead_partner is None for key in commitments)


def test_commitments_name_the_organisations_they_work_with(seed_items: dict[str, ParsedItem]) -> None:
    assert seed_items["I.C.3"].associated_partners == ("Département des Hauts-de-Seine",)
    assert seed_items["I.E.2"].associated_partners == ("Les Gémeaux, scène nationale",)
    # Inhabitants, neighbourhood actors and mediators are not organisations: silently left out.
    assert seed_items["I.A.2"].associated_partners == ()
    assert seed_items["I.D.1"].associated_partners == ()
    assert seed_items["II.E.2"].associated_partners == ()


def test_only_the_ambiguous_items_need_review(seed_items: dict[str, ParsedItem]) -> None:
    flagged = {key for key, item in seed_items.items() if item.needs_review}
    assert flagged == {"II.C.2", "II.D.2", "II.D.3"}
    assert all(bool(item.review_reasons) == item.needs_review for item in seed_items.values())


@pytest.mark.parametrize("source_key", ["II.C.2", "II.D.2"])
def test_a_request_that_also_commits_the_city_is_flagged(seed_items: dict[str, ParsedItem],
                                                          source_key: str) -> None:
    item = seed_items[source_key]
    assert item.kind == "request" and item.lead_partner == CSCB
    assert any("engagement de la Ville" in reason for reason in item.review_reasons)


def test_a_request_to_an_open_list_of_partners_is_flagged(seed_items: dict[str, ParsedItem]) -> None:
    reasons = " | ".join(seed_items["II.D.3"].review_reasons)
    assert "ses partenaires" in reasons and "liste de partenaires ouverte" in reasons


def test_target_date_of_the_postal_agency(seed_items: dict[str, ParsedItem]) -> None:
    assert seed_items["II.B.1"].target == TargetDate(on=date(2021, 9, 22), wording="dès l'automne 2021")
    assert [key for key, item in seed_items.items() if item.target] == ["II.B.1"]


def test_context_keeps_the_paragraphs_under_an_objective(seed_plan: ParsedPlan) -> None:
    tranquility = seed_plan.axes[0].objectives[2]
    assert tranquility.context.startswith("Les habitants du quartier des Blagis souffrent")
    assert tranquility.context.split("\n\n")[1].startswith("Cette situation nécessite une stratégie globale")
    assert len(tranquility.items) == 3
    assert seed_plan.axes[0].objectives[0].context == ""


def test_texts_are_verbatim(seed_items: dict[str, ParsedItem]) -> None:
    assert seed_items["I.B.2"].text == (
        "La Ville demande à Hauts-de-Seine Habitat, propriétaire des murs, de définir et mettre en œuvre un "
        "programme ambitieux de rénovation et redynamisation du centre commercial")
    assert seed_items["II.B.2"].text == (
        "La Ville demande à l'État la possibilité d'ouvrir une maison France services")
    # This bullet lost its dash in the extraction and starts with a space.
    assert seed_items["II.A.1"].text.startswith("La Ville apportera son soutien logistique aux événements")
    seed = SEED.read_text(encoding="utf-8")
    assert all(item.text in seed for item in seed_items.values())


def test_titles_drop_the_city_and_its_addressee(seed_items: dict[str, ParsedItem]) -> None:
    assert seed_items["I.B.2"].title == (
        "Définir et mettre en œuvre un programme ambitieux de rénovation et redynamisation…")
    assert seed_items["I.A.3"].title == (
        "Améliorer les performances énergétiques d'équipements municipaux du quartier")
    assert seed_items["II.B.1"].title == (
        "Ouvrir dès l'automne 2021 une agence postale communale dans le quartier")
    assert seed_items["II.B.2"].title == "La possibilité d'ouvrir une maison France services"
    assert seed_items["I.E.1"].title == "Organiser des évènements récurrents propres aux Blagis"
    assert seed_items["II.F.2"].title.startswith("S'attacher à conforter l'expression d'artistes")
    assert all(len(item.title) <= 90 for item in seed_items.values())


def test_parsing_is_deterministic() -> None:
    text = SEED.read_text(encoding="utf-8")
    assert parse_plan_text(text) == parse_plan_text(text)
    assert hash(parse_plan_text(text)) == hash(parse_plan_text(text))


# --- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("wording", "expected"), [
    ("dès l'automne 2021", date(2021, 9, 22)),
    ("au printemps 2022", date(2022, 3, 20)),
    ("à l'été 2023", date(2023, 6, 21)),
    ("l'hiver 2021", date(2021, 12, 21)),
    ("début 2022", date(2022, 1, 1)),
    ("mi-2022", date(2022, 6, 30)),
    ("fin 2022", date(2022, 12, 31)),
    ("d'ici 2023", date(2023, 12, 31)),
    ("en 2024", date(2024, 12, 31)),
    ("mars 2022", date(2022, 3, 31)),
    ("en juin 2022", date(2022, 6, 30)),
    ("d'ici septembre 2022", date(2022, 9, 30)),
    ("fin février 2024", date(2024, 2, 29)),
    ("début mars 2022", date(2022, 3, 1)),
    ("mi-mars 2022", date(2022, 3, 15)),
    ("le 3 mars 2022", date(2022, 3, 3)),
    ("3 mars 2022", date(2022, 3, 3)),
    ("1er décembre 2022", date(2022, 12, 1)),
])
def test_parse_target_date(wording: str, expected: date) -> None:
    assert parse_target_date(wording) == TargetDate(on=expected, wording=wording)


def test_target_date_is_found_inside_a_sentence() -> None:
    assert parse_target_date("La Ville ouvrira d'ici fin juin 2023 un lieu d'accueil") == TargetDate(
        on=date(2023, 6, 30), wording="d'ici fin juin 2023")


@pytest.mark.parametrize("wording", ["", "sans date", "la loi de 2014", "des 2000 logements",
                                     "le 31 février 2022"])
def test_no_target_date(wording: str) -> None:
    assert parse_target_date(wording) is None


def test_two_deadlines_in_one_bullet_are_flagged() -> None:
    item = _only_item("- La Ville s'engage à rénover la halle d'ici fin 2022 et le gymnase en 2023")
    assert item.target == TargetDate(on=date(2022, 12, 31), wording="d'ici fin 2022")
    assert item.needs_review and "plusieurs échéances" in item.review_reasons[0]


# --- partners -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("phrase", "expected"), [
    ("l'État", "État"),
    ("Etat", "État"),
    ("la Préfecture des Hauts-de-Seine", "État"),
    ("HdS Habitat", "Hauts-de-Seine Habitat"),
    ("aux bailleurs sociaux", "Bailleurs sociaux"),
    ("les bailleurs", "Bailleurs sociaux"),
    ("VSGP", "Vallée Sud Grand Paris"),
    ("l'établissement public Vallée Sud Grand Paris", "Vallée Sud Grand Paris"),
    ("VALLEE SUD GRAND-PARIS", "Vallée Sud Grand Paris"),
    ("école de la deuxième chance...", "École de la deuxième chance"),
    ("au CSCB", CSCB),
    ("le département des Hauts-de-Seine", "Département des Hauts-de-Seine"),
    ("le procureur de la République,", "Procureur de la République"),
    ("les communes voisines", "Communes voisines"),
    ("la scène nationale des Gémeaux", "Les Gémeaux, scène nationale"),
])
def test_resolve_partner_name(phrase: str, expected: str) -> None:
    assert resolve_partner_name(phrase) == expected


@pytest.mark.parametrize("phrase", ["les habitants", "les acteurs du quartier", "médiateurs socio-éducatifs",
                                    "le département de la Moselle", "le département",
                                    ""])
def test_what_is_no_organisation_resolves_to_none(phrase: str) -> None:
    assert resolve_partner_name(phrase) is None


def test_every_alias_designates_its_own_partner() -> None:
    for partner in KNOWN_PARTNERS:
        for alias in (partner.name, *partner.aliases):
            assert resolve_partner_name(alias) == partner.name, alias
    groups = {partner.name: partner.members for partner in KNOWN_PARTNERS if partner.kind == "group"}
    assert groups["Bailleurs sociaux"] == ("Hauts-de-Seine Habitat",)


def test_request_to_an_unknown_partner_keeps_its_name_and_is_flagged() -> None:
    item = _only_item("- La Ville demande à la Société X de rénover le parking")
    assert (item.kind, item.lead_partner, item.title) == ("request", "Société X", "Rénover le parking")
    assert item.needs_review and item.review_reasons == ("partenaire inconnu : Société X",)


def test_a_name_that_only_starts_like_a_known_one_is_unknown() -> None:
    item = _only_item("- La Ville demande aux bailleurs privés de rénover leurs immeubles")
    assert item.lead_partner == "bailleurs privés" and item.needs_review


def test_request_to_two_addressees_is_flagged() -> None:
    item = _only_item("- La Ville demande à l'État et aux bailleurs sociaux de sécuriser les halls")
    assert (item.lead_partner, item.associated_partners) == ("État", ("Bailleurs sociaux",))
    assert item.needs_review


def test_request_to_unnamed_partners_has_no_lead() -> None:
    item = _only_item("- La Ville demande à ses partenaires de renforcer l'accompagnement des jeunes")
    assert (item.kind, item.lead_partner, item.needs_review) == ("request", None, True)


# --- layout and classification of made-up plans ---------------------------------------------------


def test_a_bullet_wrapped_across_two_lines_is_one_item() -> None:
    item = _only_item("- La Ville demande au département des Hauts-de-Seine de financer\n"
                      "  un équipement sportif en lien avec le CSCB et les habitants")
    assert item.text == ("La Ville demande au département des Hauts-de-Seine de financer "
                         "un équipement sportif en lien avec le CSCB et les habitants")
    assert (item.lead_partner, item.associated_partners) == ("Département des Hauts-de-Seine", (CSCB,))
    assert not item.needs_review


def test_a_line_after_a_bullet_that_may_continue_it_is_flagged() -> None:
    objective = _plan("- La Ville mettra en place un dispositif\nHauts-de-Seine Habitat y participera.")
    (item,) = objective.axes[0].objectives[0].items
    assert item.text == "La Ville mettra en place un dispositif"
    assert objective.axes[0].objectives[0].context == "Hauts-de-Seine Habitat y participera."
    assert item.needs_review


@pytest.mark.parametrize("bullet", ["- La Ville a déjà installé des bancs", "- Création d'un jardin partagé"])
def test_an_unclassifiable_bullet_is_flagged(bullet: str) -> None:
    item = _only_item(bullet)
    assert (item.kind, item.lead_partner, item.needs_review) == ("commitment", None, True)
    assert item.review_reasons


@pytest.mark.parametrize(("bullet", "title"), [
    ("- La Ville s'engage à rénover la halle", "Rénover la halle"),
    ("- La Ville poursuivra son action", "Poursuivre son action"),
    ("- La Ville soutiendra les associations", "Soutenir les associations"),
    ("- La Ville se mobilisera pour l'emploi", "Se mobiliser pour l'emploi"),
    ("- La Ville va créer un conseil de quartier", "Créer un conseil de quartier"),
])
def test_commitments_are_recognised_and_titled_with_an_infinitive(bullet: str, title: str) -> None:
    item = _only_item(bullet)
    assert (item.kind, item.title, item.needs_review) == ("commitment", title, False)


def test_a_commitment_that_also_asks_a_partner_is_a_flagged_request() -> None:
    item = _only_item("- La Ville s'engage à rénover la halle et demande au CSCB d'y organiser des ateliers")
    assert (item.kind, item.lead_partner, item.needs_review) == ("request", CSCB, True)


def test_uppercase_titles_wrapped_onto_the_next_line_are_joined() -> None:
    plan = parse_plan_text("PLAN\n\nI. PREMIER AXE\nSUR DEUX LIGNES\n\nA | UN OBJECTIF\nQUI CONTINUE\n"
                           "B | UN AUTRE\n- La Ville ouvrira une crèche\n")
    axis = plan.axes[0]
    assert axis.title == "PREMIER AXE SUR DEUX LIGNES"
    assert [(objective.letter, objective.title) for objective in axis.objectives] == [
        ("A", "UN OBJECTIF QUI CONTINUE"), ("B", "UN AUTRE")]


def test_an_objective_letter_that_is_also_a_roman_numeral() -> None:
    plan = parse_plan_text("PLAN\n\nI. AXE UN\n\nA | PREMIER\n\nB | DEUXIÈME\n\nC. TROISIÈME\n\n"
                           "- La Ville ouvrira une crèche\n\nII. AXE DEUX\n")
    assert [axis.number for axis in plan.axes] == ["I", "II"]
    assert [objective.letter for objective in plan.axes[0].objectives] == ["A", "B", "C"]


def test_a_line_introducing_bullets_is_context() -> None:
    plan = _plan("La Ville souhaite :\n\n- La Ville ouvrira une crèche")
    objective = plan.axes[0].objectives[0]
    assert objective.context == "La Ville souhaite :" and len(objective.items) == 1


def test_text_that_is_not_a_plan_is_refused() -> None:
    with pytest.raises(PlanTextError):
        parse_plan_text("")
    with pytest.raises(PlanTextError):
        parse_plan_text("Un courrier\n\nMadame, Monsieur,\n")
    with pytest.raises(PlanTextError):
        parse_plan_text("PLAN\n\nI. AXE\n\n- La Ville ouvrira une crèche\n")
