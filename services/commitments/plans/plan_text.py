"""Read an action plan as text extracted from a PDF: axes, objectives and classified items.

Pure functions: the plan comes in as a str, frozen dataclasses come out. Partners are read by French
grammar, never looked up in a directory; what the rules cannot settle is kept and flagged (a `ReviewFlag`
with a stable code and a French message), never guessed silently. docs/plan-import.md documents the rules.
"""

from __future__ import annotations

from datetime import date

from services.commitments.plans.reading.clauses import classify
from services.commitments.plans.reading.dates import read_dates
from services.commitments.plans.reading.layout import PlanLayoutReader
from services.commitments.plans.reading.model import (
    ItemKind,
    ParsedAxis,
    ParsedItem,
    ParsedObjective,
    ParsedPlan,
    PartyName,
    PlanTextError,
    ReviewFlag,
    TargetDate,
)

__all__ = [
    "ItemKind",
    "ParsedAxis",
    "ParsedItem",
    "ParsedObjective",
    "ParsedPlan",
    "PartyName",
    "PlanTextError",
    "ReviewFlag",
    "TargetDate",
    "parse_plan_text",
    "parse_target_date",
]

_TITLE_LIMIT = 90
_DANGLING_WORDS = {
    "a",
    "à",
    "au",
    "aux",
    "de",
    "du",
    "des",
    "la",
    "le",
    "les",
    "et",
    "en",
    "un",
    "une",
    "par",
    "pour",
    "sur",
    "dans",
    "avec",
    "son",
    "sa",
    "ses",
    "leur",
    "leurs",
}


def parse_target_date(wording: str, reference_date: date | None = None) -> TargetDate | None:
    """First French date wording in `wording` ("dès l'automne 2021", "d'ici fin 2026"…) as a target, or None."""
    return next(iter(read_dates(wording, reference_date).targets), None)


def _short_title(source: str) -> str:
    title = " ".join(source.split()).strip(" ,;:.")
    title = title[:1].upper() + title[1:]
    if len(title) <= _TITLE_LIMIT:
        return title
    words = title[: _TITLE_LIMIT - 1].split(" ")
    if title[_TITLE_LIMIT - 1] != " " and len(words) > 1:
        words.pop()  # the cut fell inside this word
    while len(words) > 1 and (words[-1].lower() in _DANGLING_WORDS or words[-1].endswith("'")):
        words.pop()
    return " ".join(words).rstrip(" ,;:(-–") + "…"


def _parsed_item(
    position: int, source_prefix: str, text: str, layout_warnings: list[str], reference_date: date | None
) -> ParsedItem:
    clause = classify(text)
    dates = read_dates(text, reference_date)
    flags = list(clause.flags)
    if len(dates.targets) > 1:
        wordings = ", ".join(f"« {found.wording} »" for found in dates.targets)
        flags.append(
            ReviewFlag(
                "several-deadlines",
                f"plusieurs échéances dans le texte ({wordings}) : "
                f"« {dates.targets[0].wording} » est retenue, à confirmer",
            )
        )
    flags += [
        ReviewFlag("date-not-understood", f"échéance « {wording} » non comprise ({why}) : date à préciser")
        for wording, why in dates.not_understood
    ]
    flags += [ReviewFlag("layout", warning) for warning in layout_warnings]
    return ParsedItem(
        position=position,
        source_key=f"{source_prefix}.{position}",
        text=text,
        title=_short_title(clause.title_source or text),
        kind=clause.kind,
        lead_partner=clause.lead,
        associated_partners=tuple(clause.associated),
        target=dates.targets[0] if dates.targets else None,
        flags=tuple(flags),
    )


def parse_plan_text(text: str, reference_date: date | None = None) -> ParsedPlan:
    """Axes, objectives and classified items of an action plan extracted from a PDF as text.

    `reference_date` (the plan's adoption date, or the import day) anchors relative wordings such as
    "dans les six mois" or "au 1er trimestre"; without it they are flagged, not guessed.
    """
    reader = PlanLayoutReader()
    for line_number, line in enumerate(text.splitlines(), start=1):
        reader.read(line_number, line)
    axes = reader.finish()
    return ParsedPlan(
        title=reader.title or "",
        axes=tuple(
            ParsedAxis(
                number=axis.number,
                title=axis.title,
                objectives=tuple(
                    ParsedObjective(
                        letter=objective.letter,
                        title=objective.title,
                        context="\n\n".join(" ".join(paragraph) for paragraph in objective.paragraphs),
                        items=tuple(
                            _parsed_item(
                                position,
                                f"{axis.number}.{objective.letter}",
                                " ".join(lines),
                                warnings,
                                reference_date,
                            )
                            for position, (lines, warnings) in enumerate(objective.bullets, start=1)
                        ),
                    )
                    for objective in axis.objectives
                ),
            )
            for axis in axes
        ),
    )
