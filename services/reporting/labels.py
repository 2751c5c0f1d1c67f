"""French labels of what the read model holds as codes, for exports, calendar feeds and pages. The statuses'
words are the commitments service's own (its lifecycle's LABELS_FR): the services share no code, so the
reporting service keeps its copy here, beside the codes of statuses.py."""

from __future__ import annotations

from datetime import date

STATUS_LABELS = {
    "draft": "brouillon",
    "sent": "envoyée",
    "acknowledged": "accusé de réception",
    "accepted": "acceptée",
    "partially_accepted": "partiellement acceptée",
    "declined": "refusée",
    "no_answer": "sans réponse",
    "in_progress": "en cours",
    "delivered": "réalisée (déclarée)",
    "verified": "vérifiée",
    "planned": "prévu",
    "done": "réalisé",
    "abandoned": "abandonné",
}
KIND_LABELS = {"request": "demande", "commitment": "engagement de la ville"}
DEADLINE_KIND_LABELS = {"response": "réponse", "delivery": "réalisation", "milestone": "jalon"}
WAITING_ON_LABELS = {"partner": "partenaire", "city": "ville", "none": "personne"}


def label(labels: dict[str, str], code: str | None) -> str:
    """The French label of a code; an unknown code (a newer event) as it is rather than nothing."""
    if code is None:
        return ""
    return labels.get(code, code)


def date_fr(value: date | None) -> str:
    """dd/mm/yyyy, as French readers write a date ("" for none)."""
    return value.strftime("%d/%m/%Y") if value is not None else ""
