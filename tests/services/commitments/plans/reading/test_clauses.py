"""Request or commitment, lead, associated partners and date flags of one bullet, by grammar."""

from __future__ import annotations

from datetime import date

import pytest

from services.commitments.plans.plan_text import PartyName, TargetDate, parse_target_date
from tests.services.commitments.plans.made_up_plans import codes, only_item


@pytest.mark.parametrize(
    ("bullet", "lead"),
    [
        ("La Ville demande à la Société X de rénover le parking", "Société X"),
        (
            "La Ville demande également au centre communal d'action sociale de renforcer ses permanences",
            "centre communal d'action sociale",
        ),
        (
            "La Ville invite l'Agence nationale de la cohésion des territoires à financer l'étude",
            "Agence nationale de la cohésion des territoires",
        ),
        (
            "La Ville saisit le procureur de la République pour que soit installé un GLTD",
            "procureur de la République",
        ),
        ("La Ville sollicitera la Région Normandie afin d'obtenir un financement", "Région Normandie"),
        ("La Ville sollicite de la Caisse d'épargne un prêt", "Caisse d'épargne"),
        (
            "La Ville propose à l'office public de l'habitat de s'associer au projet",
            "office public de l'habitat",
        ),
        ("La Ville attend de Pôle emploi qu'il ouvre une antenne", "Pôle emploi"),
        ("La Ville souhaite que la Région Bretagne finance la piste", "Région Bretagne"),
        ("La Ville demande à ce que le département du Nord rouvre la route", "département du Nord"),
        ("La Ville appelle le conseil de quartier à relayer l'enquête", "conseil de quartier"),
        ("La Ville interpelle l'État sur la fermeture du bureau de poste", "État"),
        ("La Ville encourage la Ville de Nanterre à rejoindre le dispositif", "Ville de Nanterre"),
        (
            "La commune demandera à la Chambre de commerce et d'industrie (CCI) d'animer un club",
            "Chambre de commerce et d'industrie (CCI)",
        ),
        ("Demander à la Mission locale de suivre chaque jeune", "Mission locale"),
        ("La Ville va demander à l'ARS de rouvrir le centre", "ARS"),
        ("La Ville sollicitera le soutien financier de l'ANCT pour le gymnase", "ANCT"),
        (
            "La Ville sollicite l'avis de l'architecte des bâtiments de France sur le projet",
            "architecte des bâtiments de France",
        ),
        ("La Ville demandera aux services de l'État de renforcer les contrôles", "services de l'État"),
        ("La Ville propose que la Région Grand Est désigne un référent", "Région Grand Est"),
        ("La Ville interpellera le bailleur Logirep pour qu'il répare les ascenseurs", "bailleur Logirep"),
        (
            (
                "La Ville demande à la direction départementale de l'emploi, du travail et des solidarités (DDETS) de "
                "financer les chantiers"
            ),
            "direction départementale de l'emploi, du travail et des solidarités (DDETS)",
        ),
    ],
)
def test_requests_and_their_lead_read_by_grammar(bullet: str, lead: str) -> None:
    item = only_item(f"- {bullet}")
    assert (item.kind, item.lead_partner.name if item.lead_partner else None, item.flags) == (
        "request",
        lead,
        (),
    )


def test_a_name_is_read_with_its_acronym_and_the_words_after_it() -> None:
    item = only_item(
        "- La Ville demande à la Caisse primaire d'assurance maladie (CPAM) du Rhône de lancer une campagne"
    )
    assert item.lead_partner == PartyName(
        "Caisse primaire d'assurance maladie (CPAM) du Rhône", "CPAM", False, False
    )
    assert item.title == "Lancer une campagne"


@pytest.mark.parametrize(
    ("bullet", "group"),
    [
        ("La Ville demande aux bailleurs sociaux de sécuriser les halls", True),
        ("La Ville invite les communes voisines à mutualiser la fourrière", True),
        ("La Ville propose aux associations du quartier de co-construire la fête", True),
        ("La Ville demande à l'ensemble des bailleurs de signer la charte", True),
        ("La Ville invite Les Petits Débrouillards à animer un atelier", False),
    ],
)
def test_a_plural_collective_is_a_group(bullet: str, group: bool) -> None:
    item = only_item(f"- {bullet}")
    assert item.lead_partner is not None and item.lead_partner.is_group is group


def test_a_doubtful_name_end_is_kept_and_flagged() -> None:
    item = only_item("- La Ville demande à l'État des moyens supplémentaires pour la prévention")
    assert item.lead_partner == PartyName("État des moyens supplémentaires", None, False, uncertain=True)
    assert codes(item) == ["partner-name-uncertain"]
    assert "« des moyens supplémentaires »" in item.flags[0].message


@pytest.mark.parametrize(
    ("bullet", "name", "doubt"),
    [
        ("La Ville sollicite de la Caisse des dépôts un prêt", "Caisse des dépôts", "« des dépôts »"),
        (
            "La Ville rénovera la halle avec l'appui de la Maison de la justice et du droit",
            "Maison de la justice et du droit",
            "« et du droit »",
        ),
        (
            "La Ville rénovera la halle avec le soutien des bailleurs sociaux et des associations",
            "bailleurs sociaux et des associations",
            "« et des associations »",
        ),
    ],
)
def test_an_ambiguous_name_is_kept_whole_and_flagged(bullet: str, name: str, doubt: str) -> None:
    item = only_item(f"- {bullet}")
    (party,) = [party for party in (item.lead_partner, *item.associated_partners) if party]
    assert (party.name, party.uncertain, codes(item)) == (name, True, ["partner-name-uncertain"])
    assert doubt in item.flags[0].message


def test_a_subject_in_lowercase_is_a_guess() -> None:
    item = only_item("- La Ville souhaite que le centre social étudie la création d'une ludothèque")
    assert item.lead_partner is not None and item.lead_partner.name == "centre social"
    assert item.lead_partner.uncertain and codes(item) == ["partner-name-uncertain"]


def test_two_addressees_make_a_lead_and_an_associated_partner() -> None:
    item = only_item("- La Ville demande à l'État et aux bailleurs sociaux de sécuriser les halls")
    assert item.lead_partner is not None and item.lead_partner.name == "État"
    assert [party.name for party in item.associated_partners] == ["bailleurs sociaux"]
    assert codes(item) == ["several-addressees"]


def test_addressees_listed_with_commas() -> None:
    item = only_item(
        "- La Ville demande au Conseil départemental du Nord, à la Région et à l'ANCT de financer"
    )
    assert item.lead_partner is not None and item.lead_partner.name == "Conseil départemental du Nord"
    assert [party.name for party in item.associated_partners] == ["Région", "ANCT"]
    incise = only_item("- La Ville demande au CSCB, à partir de 2026, de financer les ateliers")
    assert (incise.associated_partners, incise.title, codes(incise)) == ((), "Financer les ateliers", [])


def test_a_second_addressee_after_the_first_request() -> None:
    item = only_item(
        "- La Ville demande à Est Ensemble de reprendre le marché et à Grand Paris Aménagement "
        "d'accélérer la ZAC"
    )
    assert (item.lead_partner.name if item.lead_partner else None) == "Est Ensemble"
    assert [party.name for party in item.associated_partners] == ["Grand Paris Aménagement"]
    assert codes(item) == ["several-addressees"]


def test_money_asked_for_names_no_partner() -> None:
    item = only_item("- La Ville sollicitera les fonds européens (FEDER) pour rénover l'école")
    assert (item.kind, item.lead_partner, codes(item)) == ("request", None, ["addressee-missing"])


def test_a_co_subject_of_the_city_is_associated() -> None:
    item = only_item("- La Ville et le Département demandent à l'ARS d'ouvrir un centre de santé")
    assert (item.lead_partner.name if item.lead_partner else None) == "ARS"
    assert [party.name for party in item.associated_partners] == ["Département"]


def test_request_to_unnamed_partners_has_no_lead() -> None:
    item = only_item("- La Ville demande à ses partenaires de renforcer l'accompagnement des jeunes")
    assert (item.kind, item.lead_partner, codes(item)) == ("request", None, ["addressee-missing"])


def test_a_request_without_addressee_is_flagged() -> None:
    item = only_item("- La Ville demande que soit étudiée la réouverture du commissariat")
    assert (item.kind, item.lead_partner, codes(item)) == ("request", None, ["addressee-missing"])
    offer = only_item("- La Ville propose des ateliers de français")
    assert (offer.kind, codes(offer)) == ("commitment", ["verb-not-recognised"])


def test_inhabitants_are_not_asked_as_a_partner() -> None:
    item = only_item("- La Ville invite les habitants à participer aux ateliers")
    assert (item.kind, item.lead_partner, codes(item)) == ("commitment", None, ["addressee-not-partner"])
    assert only_item("- La Ville proposera aux familles un accompagnement").flags == ()


@pytest.mark.parametrize(
    ("bullet", "associated"),
    [
        (
            "La Ville rénovera la halle en lien étroit avec la Région et le Département",
            ["Région", "Département"],
        ),
        (
            "La Ville rénovera la halle avec Paris Habitat et France Travail",
            ["Paris Habitat", "France Travail"],
        ),
        (
            "La Ville rénovera la halle en partenariat avec l'ANCT, en concertation avec les riverains",
            ["ANCT"],
        ),
        ("La Ville rénovera la halle avec le soutien de l'État et du Département", ["État", "Département"]),
        ("La Ville rénovera la halle en associant le conseil citoyen et les habitants", ["conseil citoyen"]),
        (
            "La Ville rénovera la halle en lien avec la Maison de la justice et du droit",
            ["Maison de la justice et du droit"],
        ),
        (
            "La Ville rénovera la halle avec l'appui de la Région et des communes voisines",
            ["Région", "communes voisines"],
        ),
        (
            "La Ville rénovera la halle avec l'aide du CCAS et de l'Office national des forêts",
            ["CCAS", "Office national des forêts"],
        ),
        ("La Ville rénovera la halle avec une attention particulière aux seniors", []),
        ("La Ville rénovera la halle avec ses partenaires et cette association", []),
        ("La Ville rénovera la halle en lien avec la police municipale", []),
        ("La Ville, en lien avec le CCAS, organisera une collecte", ["CCAS"]),
        (
            "La Ville étudiera, avec Île-de-France Mobilités, la création d'une ligne",
            ["Île-de-France Mobilités"],
        ),
        (
            "La Ville continuera à soutenir, aux côtés du Département, les actions de prévention",
            ["Département"],
        ),
        ("La Ville renforcera ses liens avec le tissu associatif et les clubs sportifs", ["clubs sportifs"]),
        (
            "La Ville rénovera la halle avec le soutien de l'État, de la Région et du Département",
            ["État", "Région", "Département"],
        ),
    ],
)
def test_associated_partners_of_a_commitment(bullet: str, associated: list[str]) -> None:
    item = only_item(f"- {bullet}")
    assert item.kind == "commitment" and item.flags == ()
    assert [party.name for party in item.associated_partners] == associated


def test_associated_partners_of_a_request_leave_out_the_lead() -> None:
    item = only_item(
        "- La Ville demande au Département de financer un gymnase en lien avec le CSCB, "
        "le Département et les habitants"
    )
    assert [party.name for party in item.associated_partners] == ["CSCB"]


@pytest.mark.parametrize(
    ("bullet", "title"),
    [
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
        (
            "La Ville encouragera la création d'une association de locataires",
            "Encourager la création d'une association de locataires",
        ),
        ("La Ville engagera une démarche de labellisation", "Engager une démarche de labellisation"),
        (
            "La Ville invitera les habitants à un repas de quartier",
            "Inviter les habitants à un repas de quartier",
        ),
        (
            "La Ville organisera, dès 2026, des réunions publiques",
            "Organiser, dès 2026, des réunions publiques",
        ),
    ],
)
def test_commitments_are_recognised_and_titled_with_an_infinitive(bullet: str, title: str) -> None:
    item = only_item(f"- {bullet}")
    assert (item.kind, item.title, item.flags) == ("commitment", title, ())


@pytest.mark.parametrize(
    "bullet",
    [
        "La Ville a déjà installé des bancs",
        "Création d'un jardin partagé",
        "La Ville œuvre à l'apaisement",
        "Le Département financera le gymnase",
    ],
)
def test_a_verb_that_is_not_recognised_is_flagged(bullet: str) -> None:
    item = only_item(f"- {bullet}")
    assert (item.kind, item.lead_partner, codes(item)) == ("commitment", None, ["verb-not-recognised"])


def test_a_commitment_that_also_asks_a_partner_is_a_flagged_request() -> None:
    item = only_item("- La Ville s'engage à rénover la halle et demande au CSCB d'y organiser des ateliers")
    assert (item.kind, item.lead_partner.name if item.lead_partner else None) == ("request", "CSCB")
    assert (
        codes(item) == ["request-and-commitment"]
        and "« s'engage à rénover la halle »" in item.flags[0].message
    )


def test_a_second_request_in_a_bullet_is_flagged() -> None:
    item = only_item(
        "- La Ville demande au préfet de réunir le CLSPD et invite la police nationale à y participer"
    )
    assert [party.name for party in item.associated_partners] == ["police nationale"]
    assert codes(item) == ["several-addressees"]
    same_addressee = only_item(
        "- La Ville demande aux bailleurs de fermer les caves et leur propose de les murer"
    )
    assert same_addressee.flags == ()


# --- dates in bullets ------------------------------------------------------------------------------


def test_two_deadlines_in_one_bullet_are_flagged() -> None:
    item = only_item("- La Ville s'engage à rénover la halle d'ici fin 2022 et le gymnase en 2023")
    assert item.target == TargetDate(date(2022, 12, 31), "d'ici fin 2022", "fin de l'année")
    assert codes(item) == ["several-deadlines"] and "« en 2023 »" in item.flags[0].message


def test_a_relative_wording_needs_the_reference_date() -> None:
    bullet = "- La Ville ouvrira une crèche dans les six mois"
    without = only_item(bullet)
    assert (without.target, codes(without)) == (None, ["date-not-understood"])
    assert "« dans les six mois »" in without.flags[0].message
    item = only_item(bullet, reference_date=date(2025, 8, 31))
    assert (item.target, item.flags) == (
        TargetDate(date(2026, 2, 28), "dans les six mois", "date de référence + 6 mois"),
        (),
    )


@pytest.mark.parametrize(
    "wording",
    [
        "prochainement",
        "à moyen terme",
        "dans les meilleurs délais",
        "d'ici la fin du mandat",
        "dans les six mois suivant la signature",
    ],
)
def test_a_date_wording_not_understood_is_flagged(wording: str) -> None:
    item = only_item(f"- La Ville ouvrira une crèche {wording}", reference_date=date(2025, 1, 1))
    assert (item.target, codes(item)) == (None, ["date-not-understood"])


def test_parse_target_date_keeps_its_signature() -> None:
    assert parse_target_date("La Ville ouvrira d'ici fin juin 2023 un lieu d'accueil") == TargetDate(
        date(2023, 6, 30), "d'ici fin juin 2023", "fin du mois"
    )
    assert parse_target_date("la loi de 2014") is None
    assert parse_target_date("au 1er trimestre") is None
    assert parse_target_date("au 1er trimestre", date(2025, 6, 1)) == TargetDate(
        date(2026, 3, 31),
        "au 1er trimestre",
        "fin du trimestre, première occurrence après la date de référence",
    )
