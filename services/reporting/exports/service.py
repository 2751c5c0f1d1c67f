"""The exports' sheets, built from the reports' own queries and figures (reports/service.py and
repository.py), scoped to the caller as the reports are."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.exports.sheets import Sheet
from services.reporting.labels import (
    DEADLINE_KIND_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    WAITING_ON_LABELS,
    label,
)
from services.reporting.reports import repository
from services.reporting.reports import service as reports
from services.reporting.reports.schemas import Period
from shared.auth import Principal
from shared.clock import Clock, paris_today

ITEM_HEADERS = (
    "Plan",
    "Commune",
    "Axe",
    "Objectif",
    "Intitulé",
    "Nature",
    "Statut",
    "Partenaire pilote",
    "En attente de",
    "Avancement (%)",
    "Créé le",
    "Envoyée le",
    "Accusé de réception le",
    "Réponse le",
    "Délai de réponse (jours ouvrés)",
    "Réalisée le",
    "Vérifiée le",
    "Prochaine échéance",
    "En retard",
    "Identifiant",
)
DEADLINE_HEADERS = (
    "Échéance",
    "Élément",
    "Statut de l'élément",
    "Partenaire pilote",
    "En attente de",
    "Date initiale",
    "Date en vigueur",
    "Atteinte le",
    "Glissement (jours ouvrés)",
    "Retard (jours ouvrés)",
    "Identifiant de l'élément",
    "Identifiant de l'échéance",
)
SCORECARD_HEADERS = (
    "Partenaire",
    "Début de période",
    "Fin de période",
    "Retards comptés au",
    "Demandes envoyées",
    "Accusés de réception",
    "Réponses",
    "Réponses dans le délai",
    "Réponses dans le délai (%)",
    "Délai médian de réponse (jours ouvrés)",
    "Délai de réponse, 90e centile (jours ouvrés)",
    "Réalisations déclarées",
    "Réalisations vérifiées",
    "En retard",
    "En retard du fait du partenaire",
    "En retard du fait de la ville",
    "Très en retard",
    "Relances parvenues",
    "Relances sans destinataire atteint",
)


def numbered(number: str | None, title: str | None) -> str:
    """ "I – BIEN VIVRE": an axis or objective with its number or letter."""
    return " – ".join(part for part in (number, title) if part)


def item_progress(status: str, progress_percent: int | None) -> int | None:
    """An item's progress in percent: 100 once verified or done, else the last one reported."""
    return 100 if status in ("verified", "done") else progress_percent


def _item_row(row: Row[Any], today: date) -> tuple[Any, ...]:
    late = row.next_due_on is not None and row.next_due_on < today
    progress = item_progress(row.status, row.progress_percent)
    return (
        row.plan_title,
        row.commune,
        numbered(row.axis_number, row.axis_title),
        numbered(row.objective_letter, row.objective_title),
        row.title,
        label(KIND_LABELS, row.kind),
        label(STATUS_LABELS, row.status),
        row.lead_partner_name,
        label(WAITING_ON_LABELS, row.waiting_on),
        progress,
        row.created_on,
        row.requested_on,
        row.acknowledged_on,
        row.answered_on,
        row.response_delay_working_days,
        row.delivered_on,
        row.verified_on,
        row.next_due_on,
        late,
        str(row.id),
    )


async def items_sheet(
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Sheet:
    """The items the caller may see, with their steps' dates and their earliest open date."""
    reports.check_partner_filter(principal, partner_id)
    today = paris_today(clock)
    rows = await repository.export_items(session, reports.visible_to(principal), plan_id, partner_id)
    return Sheet(
        "Éléments", f"elements-{today.isoformat()}", ITEM_HEADERS, [_item_row(row, today) for row in rows]
    )


async def deadlines_sheet(
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    include_met: bool = False,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> Sheet:
    """The deadlines of the items the caller may see (the open ones, or all), by date in force."""
    reports.check_partner_filter(principal, partner_id)
    today = paris_today(clock)
    deadlines = await reports.deadline_list(
        session,
        reports.visible_to(principal),
        today,
        open_only=not include_met,
        plan_id=plan_id,
        partner_id=partner_id,
    )
    names = await repository.partner_names(
        session, {d.lead_partner_id for d in deadlines if d.lead_partner_id}
    )
    rows = [
        (
            label(DEADLINE_KIND_LABELS, d.kind),
            d.item_title,
            label(STATUS_LABELS, d.item_status),
            names.get(d.lead_partner_id) if d.lead_partner_id else None,
            label(WAITING_ON_LABELS, d.waiting_on),
            d.original_due_on,
            d.due_on,
            d.met_on,
            d.slippage_working_days,
            d.working_days_late,
            str(d.item_id),
            str(d.deadline_id),
        )
        for d in deadlines
    ]
    return Sheet("Échéances", f"echeances-{today.isoformat()}", DEADLINE_HEADERS, rows)


async def scorecards_sheet(
    session: AsyncSession, principal: Principal, clock: Clock, period: Period, very_overdue_working_days: int
) -> Sheet:
    """One row per partner the caller may see: its scorecard over the period."""
    cards = await reports.partner_scorecards(session, principal, clock, period, very_overdue_working_days)
    rows = [
        (
            c.partner_name,
            c.period.start,
            c.period.end,
            c.as_of,
            c.requested,
            c.acknowledged,
            c.answered,
            c.answered_within_deadline,
            c.answered_within_deadline_percent,
            c.median_response_working_days,
            c.p90_response_working_days,
            c.delivered,
            c.verified,
            c.overdue_now.total,
            c.overdue_now.waiting_on_partner,
            c.overdue_now.waiting_on_city,
            c.very_overdue_now.total,
            c.reminders_sent,
            c.reminders_unreached,
        )
        for c in cards
    ]
    return Sheet(
        "Fiches partenaires",
        f"fiches-partenaires-{period.start.isoformat()}-{period.end.isoformat()}",
        SCORECARD_HEADERS,
        rows,
    )
