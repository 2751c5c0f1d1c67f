"""French words and numbers of the page: statuses, who an item waits on, kinds of deadlines, dates."""

from __future__ import annotations

from datetime import date

from services.reporting.labels import DEADLINE_KIND_LABELS, KIND_LABELS

STATUS = {
    "draft": "brouillon",
    "sent": "envoyée",
    "acknowledged": "reçue",
    "accepted": "acceptée",
    "partially_accepted": "acceptée en partie",
    "declined": "refusée",
    "no_answer": "sans réponse",
    "in_progress": "en cours",
    "delivered": "réalisée, à vérifier",
    "verified": "vérifiée",
    "planned": "prévu",
    "done": "réalisé",
    "abandoned": "abandonné",
}
WAITING_ON = {"partner": "le partenaire", "city": "la ville", "none": "personne"}
# The kinds in the same words as the exports and calendar feeds (services/reporting/labels.py).
ITEM_KIND = KIND_LABELS
DEADLINE_KIND = DEADLINE_KIND_LABELS
ROLE = {
    "admin": "administration",
    "city": "ville",
    "reader": "lecture",
    "partner": "partenaire",
    "service": "service",
}


def date_fr(day: date | None) -> str:
    """15/06/2026 (the French numeric date); a dash for none."""
    return day.strftime("%d/%m/%Y") if day is not None else "—"


def number_fr(value: float | int | None, unit: str = "") -> str:
    """12,5 (a decimal comma, no useless ,0); a dash for none."""
    if value is None:
        return "—"
    text = f"{value:g}".replace(".", ",") if isinstance(value, float) else str(value)
    return f"{text}\u00a0{unit}" if unit else text
