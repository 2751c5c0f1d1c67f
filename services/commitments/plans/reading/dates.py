"""Date wordings of a plan ("d'ici fin 2026", "avant l'automne 2025", "dans les six mois") and their target dates.

Every wording names a period (a day, a month, a season, the school start, a semester, a quarter, a year) and
says where in it the target falls: its end by default, its start after "dès" / "à partir de", the day before
it begins after "avant". docs/plan-import.md holds the table. A relative wording needs the reference date
(the plan's adoption or the import day); without one it is reported, never guessed.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from services.commitments.plans.reading.model import TargetDate
from services.commitments.plans.reading.words import fold, lower

_MONTHS = {
    "janvier": 1,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "decembre": 12,
}
# Conventional season bounds (the astronomical ones move by a day from year to year); winter Y runs into Y+1.
_SEASONS = {
    "printemps": ((3, 20), (6, 20), "du printemps"),
    "ete": ((6, 21), (9, 21), "de l'été"),
    "automne": ((9, 22), (12, 20), "de l'automne"),
    "hiver": ((12, 21), (3, 19), "de l'hiver"),
}
_ORDINALS = {
    "1er": 1,
    "1re": 1,
    "premier": 1,
    "premiere": 1,
    "2e": 2,
    "2eme": 2,
    "2nd": 2,
    "2nde": 2,
    "second": 2,
    "seconde": 2,
    "deuxieme": 2,
    "3e": 3,
    "3eme": 3,
    "troisieme": 3,
    "4e": 4,
    "4eme": 4,
    "quatrieme": 4,
    "dernier": -1,
}
_NUMBERS = {
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "six": 6,
    "sept": 7,
    "huit": 8,
    "neuf": 9,
    "dix": 10,
    "onze": 11,
    "douze": 12,
    "quinze": 15,
    "dix-huit": 18,
    "vingt": 20,
    "vingt-quatre": 24,
    "trente": 30,
    "trente-six": 36,
    "quarante-huit": 48,
}

_YEAR = r"(?:19|20)\d{2}"
_MONTH = r"janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre"
_ORDINAL = (
    r"1er|1re|premi[eè]re?|2e|2[eè]me|2nde?|second(?:e)?|deuxi[eè]me|3e|3[eè]me|troisi[eè]me|4e|4[eè]me"
    r"|quatri[eè]me|dernier"
)
_OF = r"(?:de\s+l'|de\s+la\s+|du\s+|des\s+|de\s+|d')"
_LEAD = (
    r"(?P<lead>dès|d'ici(?:\s+à)?|au\s+plus\s+tard|[àa]\s+partir\s+"
    + _OF
    + r"?|[àa]\s+compter\s+"
    + _OF
    + r"?|avant|jusqu'(?:à|au|en)|[àa]\s+l'horizon(?:\s+"
    + _OF
    + r")?|depuis)"
)
_LINK = r"(?P<link>en|à\s+la|à\s+l'|au|aux|le|la|l'|les|dans\s+le|pour)"
_MODIFIER = (
    r"(?:(?:à\s+la|la|en|au|le|dans\s+le)\s+)?(?P<mod>début|fin|milieu|courant)(?:\s+" + _OF + r"|\s+)"
    r"|(?P<mod_mid>mi)(?:-|\s+)|(?P<mod_during>au\s+cours\s+)" + _OF
)
_PERIOD = (
    rf"(?P<day>\d{{1,2}})(?:er)?\s+(?P<day_month>{_MONTH})(?:\s+(?P<day_year>{_YEAR}))?"
    rf"|(?P<month>{_MONTH})(?:\s+(?P<month_year>{_YEAR}))?"
    rf"|(?P<season>printemps|[ée]t[ée]|automne|hiver)(?:\s+(?P<season_year>{_YEAR}))?"
    rf"|(?P<school>rentrée)(?:\s+scolaire)?(?:\s+(?:de\s+septembre\s+)?(?P<school_year>{_YEAR}))?"
    rf"|(?P<ordinal>{_ORDINAL})\s+(?P<part>semestre|trimestre)(?:\s+(?:de\s+l'année\s+)?(?P<part_year>{_YEAR}))?"
    rf"|(?P<short>[st])(?P<short_number>[1-4])\s+(?P<short_year>{_YEAR})"
    rf"|(?:l'année\s+|année\s+)?(?P<year>{_YEAR})"
    rf"|(?P<this_year>(?:l'|cette\s+)?année(?:\s+en\s+cours|\s+(?P<next_year>prochaine))?)"
)
_DATE = re.compile(
    rf"(?<![\w'-])(?:{_LEAD}(?:\s+|(?<=[\s'])))?(?:{_LINK}(?:\s+|(?<=')))?(?:{_MODIFIER})?"
    rf"(?:{_LINK.replace('link', 'link2')}(?:\s+|(?<=')))?(?:{_PERIOD})(?![\w-])"
)
_DURATION = re.compile(
    r"(?<![\w'])(?P<lead>dans|sous|d'ici(?:\s+à)?|en\s+moins\s+de)\s+(?:les\s+|un\s+délai\s+de\s+|le\s+délai\s+de\s+)?"
    r"(?P<count>\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")\s+"
    r"(?P<unit>jours?|semaines?|mois|ans|an|années?)(?:\s+(?:à\s+venir|qui\s+viennent|prochaine?s?))?(?!\w)"
)
_AFTER_AN_EVENT = re.compile(
    r"\s*(?:suivant|après|à\s+compter|qui\s+suivent|de\s+la\s+signature|de\s+l'adoption)"
)
_VAGUE = re.compile(
    r"(?<![\w'])(?:prochainement|rapidement|ultérieurement|à\s+(?:court|moyen|long)\s+terme|à\s+terme"
    r"|dans\s+les\s+(?:meilleurs|plus\s+brefs)\s+délais|au\s+plus\s+vite|dès\s+que\s+possible|sans\s+délai"
    r"|dans\s+les\s+prochain(?:e?s)\s+(?:jours|semaines|mois|années|ans)|dans\s+un\s+(?:second|deuxième)\s+temps"
    r"|(?:d'ici\s+la|en|à\s+la)\s+fin\s+(?:du|de\s+ce)\s+mandat|au\s+cours\s+du\s+mandat"
    r"|(?:dès\s+que|à\s+l'issue\s+(?:de\s+la|des|du|de\s+l'|de))\s+[^,.;:()]+)(?<=\w)"
)


@dataclass(frozen=True)
class DateReading:
    """The date wordings of one bullet: the targets understood, in order, and the wordings that were not."""

    targets: tuple[TargetDate, ...]
    not_understood: tuple[tuple[str, str], ...]  # (wording, why)


@dataclass(frozen=True)
class _Period:
    first: date
    last: date
    of: str  # "de l'année", "du mois", "de l'automne"… for the rule


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _period(match: re.Match[str], year: int) -> _Period:
    if match["day"]:
        day = date(year, _MONTHS[fold(match["day_month"])], int(match["day"]))
        return _Period(day, day, "du jour indiqué")
    if match["month"]:
        month = _MONTHS[fold(match["month"])]
        return _Period(
            date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]), "du mois"
        )
    if match["season"]:
        (first_month, first_day), (last_month, last_day), of = _SEASONS[fold(match["season"])]
        last_year = year + 1 if last_month < first_month else year
        return _Period(date(year, first_month, first_day), date(last_year, last_month, last_day), of)
    if match["school"]:
        return _Period(date(year, 9, 1), date(year, 9, 1), "de la rentrée scolaire")
    if match["part"] or match["short"]:
        semester = (match["part"] or "") == "semestre" or match["short"] == "s"
        count = 2 if semester else 4
        number = _ORDINALS[fold(match["ordinal"])] if match["ordinal"] else int(match["short_number"])
        number = count if number == -1 else number
        if number > count:
            raise ValueError(f"{number} > {count}")
        length = 12 // count
        first = date(year, (number - 1) * length + 1, 1)
        return _Period(
            first,
            _add_months(first, length) - timedelta(days=1),
            "du semestre" if semester else "du trimestre",
        )
    return _Period(date(year, 1, 1), date(year, 12, 31), "de l'année")


def _written_year(match: re.Match[str]) -> int | None:
    for group in ("day_year", "month_year", "season_year", "school_year", "part_year", "short_year", "year"):
        if match[group]:
            return int(match[group])
    return None


def _is_a_deadline(match: re.Match[str], year: int | None) -> bool:
    """A bare year ("la loi de 2014") or a bare month name is no deadline; "depuis" looks back."""
    lead = fold(match["lead"] or "")
    if lead == "depuis":
        return False
    framed = bool(lead or match["mod"] or match["mod_mid"] or match["mod_during"])
    link = fold(match["link"] or match["link2"] or "")
    if match["year"]:
        return framed or link == "en"
    if match["this_year"]:
        return framed or bool(match["next_year"])
    if year is None:  # "à l'automne", "au 1er trimestre", "le 15 mars": the wording must introduce a time
        return framed or link in {"en", "a la", "a l'", "au", "le", "dans le"}
    return True


_FROM_LEADS = {"des", "a partir", "a compter"}


def _point(match: re.Match[str], period: _Period) -> tuple[date, str]:
    """The target date in `period` and the rule that chose it."""
    lead = " ".join(fold(match["lead"] or "").split()[:2])
    modifier = fold(
        match["mod"] or ("mi" if match["mod_mid"] else "") or ("courant" if match["mod_during"] else "")
    )
    if period.first == period.last:  # a day, or the school start
        if lead == "avant":
            return period.first - timedelta(days=1), f"veille {period.of}" + (
                "" if period.of == "du jour indiqué" else " : 31 août"
            )
        return (
            period.first,
            "jour indiqué" if period.of == "du jour indiqué" else "rentrée scolaire : 1er septembre",
        )
    if lead == "avant" and modifier == "fin":
        return period.last, f"fin {period.of} (« avant la fin de » : son dernier jour)"
    if modifier == "debut":
        day, rule = period.first, f"début {period.of}"
    elif modifier in {"mi", "milieu"}:
        if period.of == "du mois":
            day = period.first.replace(day=15)
        elif period.of == "de l'année":
            day = period.first.replace(month=6, day=30)
        else:
            day = period.first + (period.last - period.first) / 2
        rule = f"milieu {period.of}"
    elif modifier in {"fin", "courant"}:
        day, rule = period.last, f"fin {period.of}"
    elif lead == "avant":
        return period.first - timedelta(days=1), f"veille du début {period.of}"
    elif lead in _FROM_LEADS:
        return period.first, f"début {period.of}"
    else:
        return period.last, f"fin {period.of}"
    if lead == "avant":
        return day - timedelta(days=1), f"veille du {rule}"
    return day, rule


def _calendar_date(match: re.Match[str], reference: date | None) -> tuple[date, str] | str:
    """The target of a calendar wording, or why it has none."""
    written = _written_year(match)
    if match["this_year"]:
        if reference is None:
            return "« l'année » sans date de référence"
        if match["next_year"]:
            target, rule = _point(match, _period(match, reference.year + 1))
            return target, f"{rule}, année suivant celle de la date de référence"
        target, rule = _point(match, _period(match, reference.year))
        return target, f"{rule}, année de la date de référence"
    if written is not None:
        return _point(match, _period(match, written))
    if reference is None:
        return "année non précisée et pas de date de référence"
    for year in range(reference.year - 1, reference.year + 3):
        try:
            target, rule = _point(match, _period(match, year))
        except ValueError:  # "29 février" of a common year
            continue
        if target >= reference:
            return target, f"{rule}, première occurrence après la date de référence"
    return "année non précisée"


def _duration_date(match: re.Match[str], reference: date | None) -> tuple[date, str] | str:
    count_text = match["count"]
    count = int(count_text) if count_text.isdigit() else _NUMBERS[count_text]
    unit = fold(match["unit"])
    if reference is None:
        return "délai relatif sans date de référence"
    if unit.startswith("jour"):
        target = reference + timedelta(days=count)
    elif unit.startswith("semaine"):
        target = reference + timedelta(weeks=count)
    elif unit == "mois":
        target = _add_months(reference, count)
    else:
        target = _add_months(reference, 12 * count)
    unit_word = (
        "mois"
        if unit == "mois"
        else ("jour" if unit.startswith("jour") else "semaine" if unit.startswith("semaine") else "an")
    )
    plural = "s" if count > 1 and unit_word != "mois" else ""
    return target, f"date de référence + {count} {unit_word}{plural}"


def read_dates(text: str, reference: date | None = None) -> DateReading:
    """Every date wording of `text`, in order: those understood as targets, and those that were not."""
    low = lower(text)
    found: list[tuple[int, TargetDate | None, tuple[str, str] | None]] = []
    taken: list[tuple[int, int]] = []
    for match in _DURATION.finditer(low):
        wording = text[match.start() : match.end()]
        if _AFTER_AN_EVENT.match(low, match.end()):
            following = text[match.end() :].split(",")[0].strip()
            found.append((match.start(), None, (wording, f"délai compté à partir de « {following} »")))
        else:
            result = _duration_date(match, reference)
            found.append(
                (
                    match.start(),
                    *(
                        (TargetDate(result[0], wording, result[1]), None)
                        if isinstance(result, tuple)
                        else (None, (wording, result))
                    ),
                )
            )
        taken.append(match.span())
    for match in _DATE.finditer(low):
        if any(start < match.end() and match.start() < end for start, end in taken):
            continue
        year = _written_year(match)
        if not _is_a_deadline(match, year):
            continue
        wording = text[match.start() : match.end()]
        try:
            result = _calendar_date(match, reference)
        except ValueError:  # "31 février 2022" is no date
            continue
        if isinstance(result, tuple):
            found.append((match.start(), TargetDate(result[0], wording, result[1]), None))
        else:
            found.append((match.start(), None, (wording, result)))
        taken.append(match.span())
    for match in _VAGUE.finditer(low):
        if not any(start < match.end() and match.start() < end for start, end in taken):
            found.append((match.start(), None, (text[match.start() : match.end()], "échéance sans date")))
    found.sort(key=lambda entry: entry[0])
    return DateReading(
        targets=tuple(target for _, target, _ in found if target),
        not_understood=tuple(problem for _, _, problem in found if problem),
    )
