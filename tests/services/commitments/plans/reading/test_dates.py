"""Date wordings and their target dates: the table of docs/plan-import.md, wording by wording."""

from __future__ import annotations

from datetime import date

import pytest

from services.commitments.plans.reading.dates import read_dates
from services.commitments.plans.reading.model import TargetDate

REFERENCE = date(2025, 6, 10)


@pytest.mark.parametrize(
    ("wording", "on", "rule"),
    [
        # a day
        ("le 15 mars 2024", date(2024, 3, 15), "jour indiqué"),
        ("3 mars 2022", date(2022, 3, 3), "jour indiqué"),
        ("1er décembre 2022", date(2022, 12, 1), "jour indiqué"),
        ("au plus tard le 30 juin 2025", date(2025, 6, 30), "jour indiqué"),
        ("à compter du 1er mars 2026", date(2026, 3, 1), "jour indiqué"),
        ("avant le 15 mars 2024", date(2024, 3, 14), "veille du jour indiqué"),
        # a month
        ("mars 2022", date(2022, 3, 31), "fin du mois"),
        ("en juin 2022", date(2022, 6, 30), "fin du mois"),
        ("d'ici septembre 2022", date(2022, 9, 30), "fin du mois"),
        ("fin février 2024", date(2024, 2, 29), "fin du mois"),
        ("fin mars 2022", date(2022, 3, 31), "fin du mois"),
        ("début mars 2022", date(2022, 3, 1), "début du mois"),
        ("mi-mars 2022", date(2022, 3, 15), "milieu du mois"),
        ("à partir de septembre 2025", date(2025, 9, 1), "début du mois"),
        ("avant mars 2022", date(2022, 2, 28), "veille du début du mois"),
        # a season, the school start
        ("dès l'automne 2021", date(2021, 9, 22), "début de l'automne"),
        ("à l'automne 2025", date(2025, 12, 20), "fin de l'automne"),
        ("au printemps 2022", date(2022, 6, 20), "fin du printemps"),
        ("d'ici l'été 2023", date(2023, 9, 21), "fin de l'été"),
        ("l'hiver 2021", date(2022, 3, 19), "fin de l'hiver"),
        ("avant l'automne 2025", date(2025, 9, 21), "veille du début de l'automne"),
        ("à la rentrée 2025", date(2025, 9, 1), "rentrée scolaire : 1er septembre"),
        ("dès la rentrée 2025", date(2025, 9, 1), "rentrée scolaire : 1er septembre"),
        ("avant la rentrée 2025", date(2025, 8, 31), "veille de la rentrée scolaire : 31 août"),
        # a semester, a quarter
        ("au second semestre 2026", date(2026, 12, 31), "fin du semestre"),
        ("au cours du premier semestre 2026", date(2026, 6, 30), "fin du semestre"),
        ("dès le second semestre 2026", date(2026, 7, 1), "début du semestre"),
        ("avant le second semestre 2026", date(2026, 6, 30), "veille du début du semestre"),
        ("au 1er trimestre 2026", date(2026, 3, 31), "fin du trimestre"),
        ("au dernier trimestre 2025", date(2025, 12, 31), "fin du trimestre"),
        ("fin du 3e trimestre 2026", date(2026, 9, 30), "fin du trimestre"),
        ("T3 2026", date(2026, 9, 30), "fin du trimestre"),
        # a year
        ("en 2027", date(2027, 12, 31), "fin de l'année"),
        ("d'ici 2030", date(2030, 12, 31), "fin de l'année"),
        ("d'ici fin 2026", date(2026, 12, 31), "fin de l'année"),
        ("courant 2026", date(2026, 12, 31), "fin de l'année"),
        ("dans le courant de l'année 2026", date(2026, 12, 31), "fin de l'année"),
        ("fin 2022", date(2022, 12, 31), "fin de l'année"),
        ("au plus tard en 2027", date(2027, 12, 31), "fin de l'année"),
        ("jusqu'en 2026", date(2026, 12, 31), "fin de l'année"),
        ("à l'horizon 2030", date(2030, 12, 31), "fin de l'année"),
        ("début 2022", date(2022, 1, 1), "début de l'année"),
        ("mi-2023", date(2023, 6, 30), "milieu de l'année"),
        ("à partir de 2025", date(2025, 1, 1), "début de l'année"),
        ("dès 2026", date(2026, 1, 1), "début de l'année"),
        ("avant 2027", date(2026, 12, 31), "veille du début de l'année"),
        ("avant fin 2026", date(2026, 12, 31), "fin de l'année (« avant la fin de » : son dernier jour)"),
    ],
)
def test_calendar_wordings(wording: str, on: date, rule: str) -> None:
    reading = read_dates(wording)
    assert (reading.targets, reading.not_understood) == ((TargetDate(on, wording, rule),), ())


@pytest.mark.parametrize(
    ("wording", "on", "rule"),
    [
        ("dans les six mois", date(2025, 12, 10), "date de référence + 6 mois"),
        ("sous 18 mois", date(2026, 12, 10), "date de référence + 18 mois"),
        ("dans les 15 jours", date(2025, 6, 25), "date de référence + 15 jours"),
        ("d'ici un an", date(2026, 6, 10), "date de référence + 1 an"),
        ("dans un délai de deux ans", date(2027, 6, 10), "date de référence + 2 ans"),
        (
            "au 1er trimestre",
            date(2026, 3, 31),
            "fin du trimestre, première occurrence après la date de référence",
        ),
        (
            "au second semestre",
            date(2025, 12, 31),
            "fin du semestre, première occurrence après la date de référence",
        ),
        (
            "à la rentrée",
            date(2025, 9, 1),
            ("rentrée scolaire : 1er septembre, première occurrence après la date de référence"),
        ),
        (
            "avant l'été",
            date(2025, 6, 20),
            "veille du début de l'été, première occurrence après la date de référence",
        ),
        ("en mai", date(2026, 5, 31), "fin du mois, première occurrence après la date de référence"),
        ("d'ici la fin de l'année", date(2025, 12, 31), "fin de l'année, année de la date de référence"),
        ("en fin d'année", date(2025, 12, 31), "fin de l'année, année de la date de référence"),
        (
            "l'année prochaine",
            date(2026, 12, 31),
            "fin de l'année, année suivant celle de la date de référence",
        ),
    ],
)
def test_relative_wordings_count_from_the_reference_date(wording: str, on: date, rule: str) -> None:
    assert read_dates(wording, REFERENCE).targets == (TargetDate(on, wording, rule),)
    without = read_dates(wording)
    assert without.targets == () and [found for found, _ in without.not_understood] == [wording]


def test_a_month_end_is_kept_when_months_are_added() -> None:
    assert read_dates("dans les six mois", date(2025, 8, 31)).targets[0].on == date(2026, 2, 28)


@pytest.mark.parametrize(
    "wording",
    [
        "prochainement",
        "rapidement",
        "à court terme",
        "à moyen terme",
        "à long terme",
        "à terme",
        "dans les meilleurs délais",
        "dans les plus brefs délais",
        "au plus vite",
        "dès que possible",
        "dans les prochains mois",
        "d'ici la fin du mandat",
        "dans un second temps",
        "dès que les travaux",
    ],
)
def test_vague_wordings_are_reported(wording: str) -> None:
    reading = read_dates(f"La Ville ouvrira une crèche {wording}", REFERENCE)
    assert reading.targets == () and [found for found, _ in reading.not_understood] == [wording]


def test_a_delay_counted_from_an_event_is_reported() -> None:
    reading = read_dates("dans les six mois suivant la signature de la convention", REFERENCE)
    assert reading.targets == ()
    assert reading.not_understood == (
        ("dans les six mois", ("délai compté à partir de « suivant la signature de la convention »")),
    )


@pytest.mark.parametrize(
    "wording",
    [
        "",
        "sans date",
        "la loi de 2014",
        "des 2000 logements",
        "le 31 février 2022",
        "depuis 2019",
        "le contrat de ville 2024-2030",
        "les animations de l'été",
        "les 35 logements",
        "le 5e arrondissement",
    ],
)
def test_no_date(wording: str) -> None:
    assert read_dates(wording, REFERENCE) == read_dates("")
    assert read_dates(wording).targets == ()


def test_every_wording_of_a_bullet_in_order() -> None:
    reading = read_dates("rénover la halle d'ici fin 2022, le gymnase en 2023 et la piscine prochainement")
    assert [target.wording for target in reading.targets] == ["d'ici fin 2022", "en 2023"]
    assert [wording for wording, _ in reading.not_understood] == ["prochainement"]
