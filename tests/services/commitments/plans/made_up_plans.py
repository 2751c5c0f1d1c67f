"""Small made-up plans for the tests of the plan reader: one axis, one objective, the bullets given, read as the
importer reads them."""

from __future__ import annotations

from datetime import date

from services.commitments.plans.plan_text import ParsedItem, ParsedPlan, parse_plan_text

FLAG_CODES = {
    "partner-name-uncertain",
    "verb-not-recognised",
    "date-not-understood",
    "several-deadlines",
    "several-addressees",
    "request-and-commitment",
    "addressees-from-list",
    "open-list",
    "addressee-missing",
    "addressee-not-partner",
    "layout",
}


def plan_of(bullets: str, objective: str = "A | OBJECTIF", reference_date: date | None = None) -> ParsedPlan:
    return parse_plan_text(f"PLAN D'ACTION\n\nI. AXE\n\n{objective}\n\n{bullets}\n", reference_date)


def only_item(bullet: str, reference_date: date | None = None) -> ParsedItem:
    (item,) = plan_of(bullet, reference_date=reference_date).axes[0].objectives[0].items
    return item


def codes(item: ParsedItem) -> list[str]:
    return [flag.code for flag in item.flags]
