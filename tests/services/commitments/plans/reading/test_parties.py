"""Where a partner's name starts and ends, read by grammar alone."""

from __future__ import annotations

import pytest

from services.commitments.plans.reading.model import PartyName
from services.commitments.plans.reading.parties import read_name, read_names
from services.commitments.plans.reading.words import tokenize


def _names(text: str, context: str = "addressee") -> list[str | None]:
    readings, _ = read_names(tokenize(text), 0, context)  # type: ignore[arg-type]
    return [reading.party.name if reading.party else None for reading in readings]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("à la Caisse primaire d'assurance maladie de lancer", "Caisse primaire d'assurance maladie"),
        (
            "à l'Agence nationale de la cohésion des territoires d'étudier",
            "Agence nationale de la cohésion des territoires",
        ),
        ("au centre communal d'action sociale de s'engager", "centre communal d'action sociale"),
        ("au département du Val-de-Marne pour", "département du Val-de-Marne"),
        ("au procureur de la République, afin de", "procureur de la République"),
        ("à Paris Habitat, propriétaire des murs, de", "Paris Habitat"),
        ("à l'État la possibilité d'ouvrir", "État"),
        ("au Centre social et culturel des Lilas de poursuivre", "Centre social et culturel des Lilas"),
        ("au conseil de quartier de relayer", "conseil de quartier"),
        ("au comité de loisirs de participer", "comité de loisirs"),
        ("à la Ville de Nanterre de lancer", "Ville de Nanterre"),
        ("à la Chambre de commerce et d'industrie (CCI) de", "Chambre de commerce et d'industrie (CCI)"),
        (
            "à l'Agence nationale pour la rénovation urbaine (ANRU) pour",
            "Agence nationale pour la rénovation urbaine (ANRU)",
        ),
        ("à l'office de la mer de produire", "office de la mer"),
        ("aux bailleurs de les accompagner", "bailleurs"),
        ("aux bailleurs de bien vouloir", "bailleurs"),
        ("à l'association Les Jardins du Lac d'animer", "association Les Jardins du Lac"),
        ("au collège Jean-Moulin à participer", "collège Jean-Moulin"),
        ("à Vallée Sud Emploi un accompagnement", "Vallée Sud Emploi"),
        ("à l'école de la deuxième chance...", "école de la deuxième chance"),
    ],
)
def test_where_a_name_ends(text: str, name: str) -> None:
    (reading,) = read_names(tokenize(text), 0, "addressee")[0]
    assert reading.party is not None and (reading.party.name, reading.party.uncertain) == (name, False)


def test_an_acronym_in_parentheses_belongs_to_the_name() -> None:
    reading = read_name(
        tokenize("à la Caisse d'allocations familiales (CAF) du Nord de verser"), 0, "addressee"
    )
    assert reading is not None
    assert reading.party == PartyName("Caisse d'allocations familiales (CAF) du Nord", "CAF", False, False)
    comment = read_name(tokenize("au CSCB (voir annexe) de poursuivre"), 0, "addressee")
    assert comment is not None and comment.party == PartyName("CSCB", None, False, False)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            "le procureur de la République, les communes voisines et les bailleurs sociaux, des solutions",
            ["procureur de la République", "communes voisines", "bailleurs sociaux"],
        ),
        ("Paris Habitat et France Travail pour", ["Paris Habitat", "France Travail"]),
        ("le collège Jean-Moulin et l'Éducation nationale", ["collège Jean-Moulin", "Éducation nationale"]),
        ("les habitants et la Région", [None, "Région"]),
        ("la police municipale et le CCAS", [None, "CCAS"]),
    ],
)
def test_enumerations(text: str, names: list[str | None]) -> None:
    assert _names(text, "list") == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("de l'État et du Département des Yvelines.", ["État", "Département des Yvelines"]),
        ("des médiateurs socio-éducatifs", [None]),
    ],
)
def test_enumerations_after_de(text: str, names: list[str | None]) -> None:
    assert _names(text, "list-de") == names


@pytest.mark.parametrize(
    ("text", "name", "uncertain"),
    [
        ("la Région Île-de-France renforce sa présence", "Région Île-de-France", False),
        ("l'État finance le projet", "État", False),
        ("France Travail organisera des permanences", "France Travail", False),
        (
            "la Mission locale des Monts du Lyonnais organiseront",
            "Mission locale des Monts du Lyonnais",
            False,
        ),
        ("la CAF ouvre une antenne", "CAF", False),
        ("la police nationale y présente", "police nationale", False),
        (
            "le centre communal d'action sociale étudie la possibilité",
            "centre communal d'action sociale",
            True,
        ),
    ],
)
def test_the_subject_of_a_clause_ends_at_its_verb(text: str, name: str, uncertain: bool) -> None:
    reading = read_name(tokenize(text), 0, "subject")
    assert reading is not None and reading.party is not None
    assert (reading.party.name, reading.party.uncertain) == (name, uncertain)


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("aux bailleurs sociaux de", True),
        ("les communes voisines", True),
        ("l'ensemble des bailleurs", True),
        ("tous les clubs sportifs", True),
        ("Les Gémeaux", False),
        ("la Région", False),
        ("aux Restos du cœur", False),
    ],
)
def test_plural_collectives_are_groups(text: str, group: bool) -> None:
    reading = read_name(tokenize(text), 0, "addressee")
    assert reading is not None and reading.party is not None and reading.party.is_group is group


@pytest.mark.parametrize(
    "text", ["ses partenaires (A, B)", "les partenaires du contrat de ville", "les acteurs"]
)
def test_unnamed_partners_are_generic(text: str) -> None:
    reading = read_name(tokenize(text), 0, "addressee")
    assert reading is not None and (reading.party, reading.generic) == (None, True)


@pytest.mark.parametrize(
    "text", ["cette association", "un partenaire", "son soutien", "", "(rue de Bagneux)"]
)
def test_no_name(text: str) -> None:
    assert read_name(tokenize(text), 0, "list") is None
