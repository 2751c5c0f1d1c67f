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
    PlanTextError,
    ReviewFlag,
    TargetDate,
    parse_plan_text,
    parse_target_date,
)

SEED = Path(plan_text.__file__).parent / "sample_data" / "plan-action-blagis.txt"
FIXTURES = Path(__file__).parent / "fixtures"
# Each plan's text and the JSON file of its expected parse (the Blagis plan is the sample data itself).
PLANS = {
    "blagis": (SEED, FIXTURES / "plan-action-blagis.json"),
    "tilleuls": (FIXTURES / "plan-action-tilleuls.txt", FIXTURES / "plan-action-tilleuls.json"),
    "hauts-de-rive": (FIXTURES / "programme-hauts-de-rive.txt", FIXTURES / "programme-hauts-de-rive.json"),
}
FLAG_CODES = {"partner-name-uncertain", "verb-not-recognised", "date-not-understood", "several-deadlines",
              "several-addressees", "request-and-commitment", "addressees-from-list", "open-list",
              "addressee-missing", "addressee-not-partner", "layout"}


def _party(party: PartyName | None) -> str | dict[str, Any] | None:
    """A party as the expected files write it: its name alone, or with what is not the default."""
    if party is None:
        return None
    extra = {key: value for key, value in (("acronym", party.acronym), ("is_group", party.is_group),
                                           ("uncertain", party.uncertain)) if value}
    return {"name": party.name, **extra} if extra else party.name


def _as_expected(plan: ParsedPlan, reference_date: date | None) -> dict[str, Any]:
    return {
        "reference_date": reference_date.isoformat() if reference_date else None,
        "title": plan.title,
        "axes": [{"number": axis.number, "title": axis.title, "objectives": [
            {"letter": objective.letter, "title": objective.title, "items": [
                {"key": item.source_key, "kind": item.kind, "lead": _party(item.lead_partner),
                 "associated": [_party(party) for party in item.associated_partners],
                 "target": {"on": item.target.on.isoformat(), "wording": item.target.wording} if item.target else None,
                 "flags": [flag.code for flag in item.flags]}
                for item in objective.items]}
            for objective in axis.objectives]}
            for axis in plan.axes],
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
    assert all(party.name == party.name.strip(" ,;:.…") and party.name[:3].lower() not in {"la ", "le ", "les"}
               for item in items for party in (item.lead_partner, *item.associated_partners) if party)


def test_the_fixtures_cover_every_flag_and_both_kinds() -> None:
    items = [item for name in PLANS for axis in _parse_fixture(name)[0].axes for objective in axis.objectives
             for item in objective.items]
    assert {flag.code for item in items for flag in item.flags} == FLAG_CODES
    assert {item.kind for item in items} == {"request", "commitment"}
    assert any(party.is_group for item in items for party in (item.lead_partner, *item.associated_partners) if party)


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


def test_the_leads_of_the_seed_are_named_as_written(seed_items: dict[str, ParsedItem]) -> None:
    leads = {key: item.lead_partner.name for key, item in seed_items.items() if item.lead_partner}
    assert leads == {
        "I.A.1": "bailleurs sociaux", "I.A.2": "bailleurs", "I.B.2": "Hauts-de-Seine Habitat", "I.C.1": "État",
        "I.C.2": "bailleurs sociaux", "I.D.2": "établissement public Vallée Sud Grand Paris", "II.B.2": "État",
        "II.C.2": "CSCB", "II.D.2": "Centre social et culturel des Blagis", "II.D.3": "Vallée Sud Grand Paris",
    }
    assert all(seed_items[key].kind == "request" for key in leads)
    assert sum(item.kind == "commitment" for item in seed_items.values()) == 15
    assert seed_items["I.A.1"].lead_partner == PartyName("bailleurs sociaux", None, is_group=True, uncertain=False)


def test_people_are_not_partners(seed_items: dict[str, ParsedItem]) -> None:
    # "en lien avec les habitants", "les acteurs du quartier", "l'appui des médiateurs socio-éducatifs".
    assert [seed_items[key].associated_partners for key in ("I.A.2", "I.D.1", "II.E.2", "II.F.1")] == [()] * 4
    assert [party.name for party in seed_items["I.C.3"].associated_partners] == ["département des Hauts-de-Seine"]


def test_a_request_that_also_commits_the_city_is_flagged(seed_items: dict[str, ParsedItem]) -> None:
    flag = seed_items["II.C.2"].flags[0]
    assert flag.code == "request-and-commitment" and "« s'engage à soutenir" in flag.message
    assert "« poursuivra son soutien" in seed_items["II.D.2"].flags[0].message


def test_a_request_to_an_open_list_of_partners_is_flagged(seed_items: dict[str, ParsedItem]) -> None:
    item = seed_items["II.D.3"]
    assert [flag.code for flag in item.flags] == ["addressees-from-list", "open-list"]
    assert "« ses partenaires »" in item.flags[0].message and "Vallée Sud Grand Paris" in item.flags[0].message


def test_target_date_of_the_postal_agency(seed_items: dict[str, ParsedItem]) -> None:
    assert seed_items["II.B.1"].target == TargetDate(date(2021, 9, 22), "dès l'automne 2021", "début de l'automne")


def test_context_keeps_the_paragraphs_under_an_objective(seed_plan: ParsedPlan) -> None:
    tranquility = seed_plan.axes[0].objectives[2]
    assert tranquility.context.startswith("Les habitants du quartier des Blagis souffrent")
    assert tranquility.context.split("\n\n")[1].startswith("Cette situation nécessite une stratégie globale")
    assert seed_plan.axes[0].objectives[0].context == ""


def test_texts_are_verbatim(seed_items: dict[str, ParsedItem]) -> None:
    assert seed_items["I.B.2"].text == (
        "La Ville demande à Hauts-de-Seine Habitat, propriétaire des murs, de définir et mettre en œuvre un "
        "programme ambitieux de rénovation et redynamisation du centre commercial")
    # This bullet lost its dash in the extraction and starts with a space.
    assert seed_items["II.A.1"].text.startswith("La Ville apportera son soutien logistique aux événements")


def test_titles_drop_the_city_and_its_addressee(seed_items: dict[str, ParsedItem]) -> None:
    assert seed_items["I.B.2"].title == (
        "Définir et mettre en œuvre un programme ambitieux de rénovation et redynamisation…")
    assert seed_items["II.B.1"].title == "Ouvrir dès l'automne 2021 une agence postale communale dans le quartier"
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


# --- made-up plans: classification ----------------------------------------------------------------


def _plan(bullets: str, objective: str = "A | OBJECTIF", reference_date: date | None = None) -> ParsedPlan:
    return parse_plan_text(f"PLAN D'ACTION\n\nI. AXE\n\n{objective}\n\n{bullets}\n", reference_date)


def _only_item(bullet: str, reference_date: date | None = None) -> ParsedItem:
    (item,) = _plan(bullet, reference_date=reference_date).axes[0].objectives[0].items
    return item


def _codes(item: ParsedItem) -> list[str]:
    return [flag.code for flag in item.flags]


@pytest.mark.parametrize(("bullet", "lead"), [
    ("La Ville demande à la Société X de rénover le parking", "Société X"),
    ("La Ville demande également au centre communal d'action sociale de renforcer ses permanences",
     "centre communal d'action sociale"),
    ("La Ville invite l'Agence nationale de la cohésion des territoires à financer l'étude",
     "Agence nationale de la cohésion des territoires"),
    ("La Ville saisit le procureur de la République pour que soit installé un GLTD", "procureur de la République"),
    ("La Ville sollicitera la Région Normandie afin d'obtenir un financement", "Région Normandie"),
    ("La Ville sollicite de la Caisse d'épargne un prêt", "Caisse d'épargne"),
    ("La Ville propose à l'office public de l'habitat de s'associer au projet", "office public de l'habitat"),
    ("La Ville attend de Pôle emploi qu'il ouvre une antenne", "Pôle emploi"),
    ("La Ville souhaite que la Région Bretagne finance la piste", "Région Bretagne"),
    ("La Ville demande à ce que le département du Nord rouvre la route", "département du Nord"),
    ("La Ville appelle le conseil de quartier à relayer l'enquête", "conseil de quartier"),
    ("La Ville interpelle l'État sur la fermeture du bureau de poste", "État"),
    ("La Ville encourage la Ville de Nanterre à rejoindre le dispositif", "Ville de Nanterre"),
    ("La commune demandera à la Chambre de commerce et d'industrie (CCI) d'animer un club", 
     "Chambre de commerce et d'industrie (CCI)"),
    ("Demander à la Mission locale de suivre chaque jeune", "Mission locale"),
    ("La Ville va demander à l'ARS de rouvrir le centre", "ARS"),
    ("La Ville sollicitera le soutien financier de l'ANCT pour le gymnase", "ANCT"),
    ("La Ville sollicite l'avis de l'architecte des bâtiments de France sur le projet",
     "architecte des bâtiments de France"),
    ("La Ville demandera aux services de l'État de renforcer les contrôles", "services de l'État"),
    ("La Ville propose que la Région Grand Est désigne un référent", "Région Grand Est"),
    ("La Ville interpellera le bailleur Logirep pour qu'il répare les ascenseurs", "bailleur Logirep"),
    ("La Ville demande à la direction départementale de l'emploi, du travail et des solidarités (DDETS) de "
     "financer les chantiers", "direction départementale de l'emploi, du travail et des solidarités (DDETS)"),
])
def test_requests_and_their_lead_read_by_grammar(bullet: str, lead: str) -> None:
    item = _only_item(f"- {bullet}")
    assert (item.kind, item.lead_partner.name if item.lead_partner else None, item.flags) == ("request", lead, ())


def test_a_name_is_read_with_its_acronym_and_the_words_after_it() -> None:
    item = _only_item("- La Ville demande à la Caisse primaire d'assurance maladie (CPAM) du Rhône de lancer "
                      "une campagne")
    assert item.lead_partner == PartyName("Caisse primaire d'assurance maladie (CPAM) du Rhône", "CPAM", False, False)
    assert item.title == "Lancer une campagne"


@pytest.mark.parametrize(("bullet", "group"), [
    ("La Ville demande aux bailleurs sociaux de sécuriser les halls", True),
    ("La Ville invite les communes voisines à mutualiser la fourrière", True),
    ("La Ville propose aux associations du quartier de co-construire la fête", True),
    ("La Ville demande à l'ensemble des bailleurs de signer la charte", True),
    ("La Ville invite Les Petits Débrouillards à animer un atelier", False),
])
def test_a_plural_collective_is_a_group(bullet: str, group: bool) -> None:
    item = _only_item(f"- {bullet}")
    assert item.lead_partner is not None and item.lead_partner.is_group is group


def test_a_doubtful_name_end_is_kept_and_flagged() -> None:
    item = _only_item("- La Ville demande à l'État des moyens supplémentaires pour la prévention")
    assert item.lead_partner == PartyName("État des moyens supplémentaires", None, False, uncertain=True)
    assert _codes(item) == ["partner-name-uncertain"]
    assert "« des moyens supplémentaires »" in item.flags[0].message


@pytest.mark.parametrize(("bullet", "name", "doubt"), [
    ("La Ville sollicite de la Caisse des dépôts un prêt", "Caisse des dépôts", "« des dépôts »"),
    ("La Ville rénovera la halle avec l'appui de la Maison de la justice et du droit",
     "Maison de la justice et du droit", "« et du droit »"),
    ("La Ville rénovera la halle avec le soutien des bailleurs sociaux et des associations",
     "bailleurs sociaux et des associations", "« et des associations »"),
])
def test_an_ambiguous_name_is_kept_whole_and_flagged(bullet: str, name: str, doubt: str) -> None:
    item = _only_item(f"- {bullet}")
    (party,) = [party for party in (item.lead_partner, *item.associated_partners) if party]
    assert (party.name, party.uncertain, _codes(item)) == (name, True, ["partner-name-uncertain"])
    assert doubt in item.flags[0].message


def test_a_subject_in_lowercase_is_a_guess() -> None:
    item = _only_item("- La Ville souhaite que le centre social étudie la création d'une ludothèque")
    assert item.lead_partner is not None and item.lead_partner.name == "centre social"
    assert item.lead_partner.uncertain and _codes(item) == ["partner-name-uncertain"]


def test_two_addressees_make_a_lead_and_an_associated_partner() -> None:
    item = _only_item("- La Ville demande à l'État et aux bailleurs sociaux de sécuriser les halls")
    assert item.lead_partner is not None and item.lead_partner.name == "État"
    assert [party.name for party in item.associated_partners] == ["bailleurs sociaux"]
    assert _codes(item) == ["several-addressees"]


def test_addressees_listed_with_commas() -> None:
    item = _only_item("- La Ville demande au Conseil départemental du Nord, à la Région et à l'ANCT de financer")
    assert item.lead_partner is not None and item.lead_partner.name == "Conseil départemental du Nord"
    assert [party.name for party in item.associated_partners] == ["Région", "ANCT"]
    incise = _only_item("- La Ville demande au CSCB, à partir de 2026, de financer les ateliers")
    assert (incise.associated_partners, incise.title, _codes(incise)) == ((), "Financer les ateliers", [])


def test_a_second_addressee_after_the_first_request() -> None:
    item = _only_item("- La Ville demande à Est Ensemble de reprendre le marché et à Grand Paris Aménagement "
                      "d'accélérer la ZAC")
    assert (item.lead_partner.name if item.lead_partner else None) == "Est Ensemble"
    assert [party.name for party in item.associated_partners] == ["Grand Paris Aménagement"]
    assert _codes(item) == ["several-addressees"]


def test_money_asked_for_names_no_partner() -> None:
    item = _only_item("- La Ville sollicitera les fonds européens (FEDER) pour rénover l'école")
    assert (item.kind, item.lead_partner, _codes(item)) == ("request", None, ["addressee-missing"])


def test_a_co_subject_of_the_city_is_associated() -> None:
    item = _only_item("- La Ville et le Département demandent à l'ARS d'ouvrir un centre de santé")
    assert (item.lead_partner.name if item.lead_partner else None) == "ARS"
    assert [party.name for party in item.associated_partners] == ["Département"]


def test_request_to_unnamed_partners_has_no_lead() -> None:
    item = _only_item("- La Ville demande à ses partenaires de renforcer l'accompagnement des jeunes")
    assert (item.kind, item.lead_partner, _codes(item)) == ("request", None, ["addressee-missing"])


def test_a_request_without_addressee_is_flagged() -> None:
    item = _only_item("- La Ville demande que soit étudiée la réouverture du commissariat")
    assert (item.kind, item.lead_partner, _codes(item)) == ("request", None, ["addressee-missing"])
    offer = _only_item("- La Ville propose des ateliers de français")
    assert (offer.kind, _codes(offer)) == ("commitment", ["verb-not-recognised"])


def test_inhabitants_are_not_asked_as_a_partner() -> None:
    item = _only_item("- La Ville invite les habitants à participer aux ateliers")
    assert (item.kind, item.lead_partner, _codes(item)) == ("commitment", None, ["addressee-not-partner"])
    assert _only_item("- La Ville proposera aux familles un accompagnement").flags == ()


@pytest.mark.parametrize(("bullet", "associated"), [
    ("La Ville rénovera la halle en lien étroit avec la Région et le Département", ["Région", "Département"]),
    ("La Ville rénovera la halle avec Paris Habitat et France Travail", ["Paris Habitat", "France Travail"]),
    ("La Ville rénovera la halle en partenariat avec l'ANCT, en concertation avec les riverains", ["ANCT"]),
    ("La Ville rénovera la halle avec le soutien de l'État et du Département", ["État", "Département"]),
    ("La Ville rénovera la halle en associant le conseil citoyen et les habitants", ["conseil citoyen"]),
    ("La Ville rénovera la halle en lien avec la Maison de la justice et du droit",
     ["Maison de la justice et du droit"]),
    ("La Ville rénovera la halle avec l'appui de la Région et des communes voisines", ["Région", "communes voisines"]),
    ("La Ville rénovera la halle avec l'aide du CCAS et de l'Office national des forêts",
     ["CCAS", "Office national des forêts"]),
    ("La Ville rénovera la halle avec une attention particulière aux seniors", []),
    ("La Ville rénovera la halle avec ses partenaires et cette association", []),
    ("La Ville rénovera la halle en lien avec la police municipale", []),
    ("La Ville, en lien avec le CCAS, organisera une collecte", ["CCAS"]),
    ("La Ville étudiera, avec Île-de-France Mobilités, la création d'une ligne", ["Île-de-France Mobilités"]),
    ("La Ville continuera à soutenir, aux côtés du Département, les actions de prévention", ["Département"]),
    ("La Ville renforcera ses liens avec le tissu associatif et les clubs sportifs", ["clubs sportifs"]),
    ("La Ville rénovera la halle avec le soutien de l'État, de la Région et du Département",
     ["État", "Région", "Département"]),
])
def test_associated_partners_of_a_commitment(bullet: str, associated: list[str]) -> None:
    item = _only_item(f"- {bullet}")
    assert item.kind == "commitment" and item.flags == ()
    assert [party.name for party in item.associated_partners] == associated


def test_associated_partners_of_a_request_leave_out_the_lead() -> None:
    item = _only_item("- La Ville demande au Département de financer un gymnase en lien avec le CSCB, "
                      "le Département et les habitants")
    assert [party.name for party in item.associated_partners] == ["CSCB"]


@pytest.mark.parametrize(("bullet", "title"), [
    ("La Ville s'engage à rénover la halle", "Rénover la halle"),
    ("La Ville poursuivra son action", "Poursuivre son action"),
    ("La Ville soutiendra les associations", "Soutenir les associations"),
    ("La Ville se mobilisera pour l'emploi", "Se mobiliser pour l'emploi"),
    ("La Ville va créer un conseil de quartier", "Créer un conseil de quartier"),
    ("La Ville étudiera la création d'une navette", "Étudier la création d'une navette"),
    ("La Ville mènera une étude", "Mener une étude"),
    ("La Ville achètera le terrain", "Acheter le terrain"),
    ("La Ville complètera l'offre", "Compléter l'offre"),
    ("La Ville continuera de soutenir le club", "Continuer de soutenir le club"),
    ("La Ville prévoit de créer un conseil citoyen", "Créer un conseil citoyen"),
    ("La Ville a pour objectif de réduire la vacance", "Réduire la vacance"),
    ("La Ville met en place un guichet unique", "Mettre en place un guichet unique"),
    ("Mettre en place un guichet unique", "Mettre en place un guichet unique"),
    ("La Ville encouragera la création d'une association de locataires",
     "Encourager la création d'une association de locataires"),
    ("La Ville engagera une démarche de labellisation", "Engager une démarche de labellisation"),
    ("La Ville invitera les habitants à un repas de quartier", "Inviter les habitants à un repas de quartier"),
    ("La Ville organisera, dès 2026, des réunions publiques", "Organiser, dès 2026, des réunions publiques"),
])
def test_commitments_are_recognised_and_titled_with_an_infinitive(bullet: str, title: str) -> None:
    item = _only_item(f"- {bullet}")
    assert (item.kind, item.title, item.flags) == ("commitment", title, ())


@pytest.mark.parametrize("bullet", ["La Ville a déjà installé des bancs", "Création d'un jardin partagé",
                                    "La Ville œuvre à l'apaisement", "Le Département financera le gymnase"])
def test_a_verb_that_is_not_recognised_is_flagged(bullet: str) -> None:
    item = _only_item(f"- {bullet}")
    assert (item.kind, item.lead_partner, _codes(item)) == ("commitment", None, ["verb-not-recognised"])


def test_a_commitment_that_also_asks_a_partner_is_a_flagged_request() -> None:
    item = _only_item("- La Ville s'engage à rénover la halle et demande au CSCB d'y organiser des ateliers")
    assert (item.kind, item.lead_partner.name if item.lead_partner else None) == ("request", "CSCB")
    assert _codes(item) == ["request-and-commitment"] and "« s'engage à rénover la halle »" in item.flags[0].message


def test_a_second_request_in_a_bullet_is_flagged() -> None:
    item = _only_item("- La Ville demande au préfet de réunir le CLSPD et invite la police nationale à y participer")
    assert [party.name for party in item.associated_partners] == ["police nationale"]
    assert _codes(item) == ["several-addressees"]
    same_addressee = _only_item("- La Ville demande aux bailleurs de fermer les caves et leur propose de les murer")
    assert same_addressee.flags == ()


# --- dates in bullets ------------------------------------------------------------------------------


def test_two_deadlines_in_one_bullet_are_flagged() -> None:
    item = _only_item("- La Ville s'engage à rénover la halle d'ici fin 2022 et le gymnase en 2023")
    assert item.target == TargetDate(date(2022, 12, 31), "d'ici fin 2022", "fin de l'année")
    assert _codes(item) == ["several-deadlines"] and "« en 2023 »" in item.flags[0].message


def test_a_relative_wording_needs_the_reference_date() -> None:
    bullet = "- La Ville ouvrira une crèche dans les six mois"
    without = _only_item(bullet)
    assert (without.target, _codes(without)) == (None, ["date-not-understood"])
    assert "« dans les six mois »" in without.flags[0].message
    item = _only_item(bullet, reference_date=date(2025, 8, 31))
    assert (item.target, item.flags) == (
        TargetDate(date(2026, 2, 28), "dans les six mois", "date de référence + 6 mois"), ())


@pytest.mark.parametrize("wording", ["prochainement", "à moyen terme", "dans les meilleurs délais",
                                     "d'ici la fin du mandat", "dans les six mois suivant la signature"])
def test_a_date_wording_not_understood_is_flagged(wording: str) -> None:
    item = _only_item(f"- La Ville ouvrira une crèche {wording}", reference_date=date(2025, 1, 1))
    assert (item.target, _codes(item)) == (None, ["date-not-understood"])


def test_parse_target_date_keeps_its_signature() -> None:
    assert parse_target_date("La Ville ouvrira d'ici fin juin 2023 un lieu d'accueil") == TargetDate(
        date(2023, 6, 30), "d'ici fin juin 2023", "fin du mois")
    assert parse_target_date("la loi de 2014") is None
    assert parse_target_date("au 1er trimestre") is None
    assert parse_target_date("au 1er trimestre", date(2025, 6, 1)) == TargetDate(
        date(2026, 3, 31), "au 1er trimestre", "fin du trimestre, première occurrence après la date de référence")


# --- layout ---------------------------------------------------------------------------------------


def test_a_bullet_wrapped_across_two_lines_is_one_item() -> None:
    item = _only_item("- La Ville demande au département des Hauts-de-Seine de financer\n"
                      "  un équipement sportif en lien avec le CSCB et les habitants")
    assert item.text == ("La Ville demande au département des Hauts-de-Seine de financer "
                         "un équipement sportif en lien avec le CSCB et les habitants")
    assert item.lead_partner is not None and item.lead_partner.name == "département des Hauts-de-Seine"
    assert [party.name for party in item.associated_partners] == ["CSCB"] and item.flags == ()


def test_a_line_after_a_bullet_that_may_continue_it_is_flagged() -> None:
    plan = _plan("- La Ville mettra en place un dispositif\nHauts-de-Seine Habitat y participera.")
    objective = plan.axes[0].objectives[0]
    assert objective.items[0].text == "La Ville mettra en place un dispositif"
    assert objective.context == "Hauts-de-Seine Habitat y participera."
    assert [flag.code for flag in objective.items[0].flags] == ["layout"]
    assert "ligne 8 « Hauts-de-Seine Habitat y participera" in objective.items[0].flags[0].message


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


@pytest.mark.parametrize(("layout", "keys"), [
    ("AXE 1 – Se loger\n\nObjectif A : Rénover\n\n• La Ville ouvrira une crèche\n\n"
     "AXE 2 – Se soigner\n\nObjectif A : Soigner\n\n• La Ville ouvrira un centre\n", ["1.A.1", "2.A.1"]),
    ("Axe II : Se loger\n", None),
    ("Axe I : Se loger\n\nA. Rénover les logements\n\n1) La Ville ouvrira une crèche\n"
     "2) La Ville ouvrira un centre\n\nB. Soigner\n\n* La Ville ouvrira une école\n", ["I.A.1", "I.A.2", "I.B.1"]),
    ("I. Bien vivre\n\n1.1 Rénover\n\n- La Ville ouvrira une crèche\n\n1.2 - Soigner\n\n"
     "- La Ville ouvrira un centre\n\nII. Bien grandir\n\nObjectif 2.1 : Grandir\n\n- La Ville ouvrira une école\n",
     ["I.1.1", "I.2.1", "II.1.1"]),
    ("AXE 1\nHabiter\n\nOBJECTIF 1 – Rénover\n\n- La Ville ouvrira une crèche\n", ["1.1.1"]),
])
def test_other_layouts(layout: str, keys: list[str] | None) -> None:
    plan = parse_plan_text(f"Programme d'actions\n\n{layout}")
    found = [item.source_key for axis in plan.axes for objective in axis.objectives for item in objective.items]
    assert found == (keys or [])
    if keys and keys[0] == "1.1.1":
        assert (plan.axes[0].title, plan.axes[0].objectives[0].title) == ("Habiter", "Rénover")


def test_a_line_introducing_bullets_is_context() -> None:
    objective = _plan("La Ville souhaite :\n\n- La Ville ouvrira une crèche").axes[0].objectives[0]
    assert objective.context == "La Ville souhaite :" and len(objective.items) == 1


@pytest.mark.parametrize(("text", "message"), [
    ("", "aucun axe"),
    ("Un courrier\n\nMadame, Monsieur,\n", "aucun axe"),
    ("PLAN\n\nI. AXE\n\n- La Ville ouvrira une crèche\n", "ligne 5 : puce hors de tout objectif"),
    ("PLAN\n\nObjectif A : Rénover\n", "ligne 3 : objectif « A » avant tout axe"),
    ("PLAN\n\nAXE 1 – Un\n\nObjectif A : X\n\nObjectif A : Y\n", "ligne 7 : l'objectif A apparaît deux fois"),
    ("PLAN\n\nAXE 1 – Un\n\nAXE 1 – Deux\n", "ligne 5 : l'axe 1 apparaît deux fois"),
    ("PLAN\n\nAXE 1 – Un\n\n2.1 Rénover\n", "ligne 5 : objectif « 2.1 » sous l'axe 1"),
])
def test_text_that_is_not_a_supported_plan_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(PlanTextError, match=message):
        parse_plan_text(text)


def test_review_flags_are_plain_values() -> None:
    flag = ReviewFlag("layout", "ligne 3")
    assert flag == ReviewFlag("layout", "ligne 3") and hash(flag) == hash(ReviewFlag("layout", "ligne 3"))


# --- any text ----------------------------------------------------------------------------------------


def test_any_bullet_is_read_without_error() -> None:
    """Seeded random bullets from the fixtures' words: every one is classified, every name has words."""
    words = " ".join(path.read_text(encoding="utf-8") for path, _ in PLANS.values()).split()
    words += ["(", ")", ",", "et", "à", "de", "d'", "l'", "s'", "...", "(CPAM)", "1er", "2026", "que", "qu'"]
    starts = ["La Ville demande à", "La Ville invite", "La Ville sollicite", "La Ville souhaite que",
              "La Ville attend de", "La Ville s'engage à", "La Ville et le", "La Ville,", "La Ville demande à ses "
              "partenaires (", "Demander à", ""]
    generator = random.Random(9)
    for _ in range(600):
        bullet = f"{generator.choice(starts)} {' '.join(generator.choices(words, k=generator.randint(0, 20)))}"
        item = _only_item(f"- {bullet.strip() or 'x'}", reference_date=date(2025, 1, 1))
        assert item.kind in {"request", "commitment"}
        assert {flag.code for flag in item.flags} <= FLAG_CODES
        assert all(party.name.strip() for party in (item.lead_partner, *item.associated_partners) if party)


def test_any_layout_is_read_or_refused_with_plan_text_error() -> None:
    lines = ["PLAN", "", "I. AXE UN", "II. AXE DEUX", "AXE 3 – Trois", "AXE 1", "A | OBJ", "B I OBJ", "C. Obj",
             "Objectif A : x", "Objectif 1.2 : y", "1.1 Titre", "2.1 Titre", "- La Ville demande à l'État de",
             "• La commune va créer", "1) La Ville ouvrira", "  suite en minuscule", "Contexte", "E TITRE", "—"]
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
        keys = [item.source_key for axis in plan.axes for objective in axis.objectives for item in objective.items]
        assert len(keys) == len(set(keys)), text
    assert read and refused
