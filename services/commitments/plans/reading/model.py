"""What the reader of a plan text returns: frozen dataclasses, nothing resolved against a directory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

ItemKind = Literal["request", "commitment"]


@dataclass(frozen=True)
class PartyName:
    """An organisation as the plan names it."""

    name: str  # as written, without leading article or surrounding punctuation
    acronym: str | None  # the acronym given in parentheses, if any: "CPAM"
    is_group: bool  # a plural collective ("les bailleurs sociaux"): a group of partners
    uncertain: bool  # the reader is not sure where the name ends (a partner-name-uncertain flag says why)


@dataclass(frozen=True)
class ReviewFlag:
    """Something a person must check, with a stable code (docs/plan-import.md lists them)."""

    code: str
    message: str  # French, says exactly what to check, quoting the words concerned


@dataclass(frozen=True)
class TargetDate:
    on: date
    wording: str  # the words of the plan, as written
    rule: str  # French, the documented rule applied ("fin de la période", "veille du début de l'automne" …)


@dataclass(frozen=True)
class ParsedItem:
    position: int
    source_key: str
    text: str
    title: str
    kind: ItemKind
    lead_partner: PartyName | None
    associated_partners: tuple[PartyName, ...]
    target: TargetDate | None
    flags: tuple[ReviewFlag, ...]

    @property
    def needs_review(self) -> bool:
        return bool(self.flags)

    @property
    def review_reasons(self) -> tuple[str, ...]:
        return tuple(flag.message for flag in self.flags)


@dataclass(frozen=True)
class ParsedObjective:
    letter: str
    title: str
    context: str
    items: tuple[ParsedItem, ...]


@dataclass(frozen=True)
class ParsedAxis:
    number: str
    title: str
    objectives: tuple[ParsedObjective, ...]


@dataclass(frozen=True)
class ParsedPlan:
    title: str
    axes: tuple[ParsedAxis, ...]


class PlanTextError(ValueError):
    """The text cannot be read as a plan: no axis, or a bullet outside any objective (French message)."""
