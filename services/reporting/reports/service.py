"""The reports: figures worked out from the read model's rows, scoped to the caller. A partner key sees its
own organisation only (itself and the groups it belongs to); admin, city, reader and service keys see all.
What a partner may not see does not exist for it (404), as in the commitments service."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.reports import repository
from services.reporting.reports.repository import Visible
from services.reporting.reports.schemas import (
    AxisProgressRead,
    DeadlineReportRead,
    DeadlinesReportRead,
    LateCount,
    LateItemRead,
    ObjectiveProgressRead,
    PartnerScorecardRead,
    Period,
    PlanProgressRead,
    SlippageRead,
    StatusCount,
    TimelineEntryRead,
    TimelineRead,
)
from services.reporting.statuses import ALL_STATUSES
from shared.auth import Principal
from shared.calendar import default_calendar
from shared.clock import Clock, paris_today
from shared.problems import InvalidInput, NotFound

PARTNER_NOT_FOUND = "Partenaire introuvable."
PLAN_NOT_FOUND = "Plan introuvable."
ITEM_NOT_FOUND = "Élément introuvable."
NOT_PROGRESSING = ("abandoned", "declined")


def visible_to(principal: Principal) -> Visible:
    """The partners whose items the caller sees (None: all of them)."""
    return principal.visible_partner_ids if principal.is_partner else None


def check_partner_filter(principal: Principal, partner_id: uuid.UUID | None) -> None:
    """A report filtered on a partner the caller may not see: that partner does not exist for it (404)."""
    if partner_id is not None and not principal.may_see_partner(partner_id):
        raise NotFound(PARTNER_NOT_FOUND)


def default_period(clock: Clock, start: date | None, end: date | None) -> Period:
    """The period asked for; by default from the first of January to today (Europe/Paris)."""
    today = paris_today(clock)
    end = end or today
    start = start or date(end.year, 1, 1)
    if start > end:
        raise InvalidInput(
            f"Période vide : le début ({start.isoformat()}) est après la fin ({end.isoformat()}).",
            field="from",
        )
    return Period(start=start, end=end)


def very_late_before(today: date, working_days: int) -> date:
    """A date open before this one is at least `working_days` working days late today."""
    calendar = default_calendar()
    nth = calendar.previous_working_day(today)
    return calendar.add_working_days(nth, -(working_days - 1)) if working_days > 1 else nth


async def partner_scorecard(
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    partner_id: uuid.UUID,
    period: Period,
    very_overdue_working_days: int,
) -> PartnerScorecardRead:
    """A partner's scorecard over the period (404 for a partner the caller may not see)."""
    if not principal.may_see_partner(partner_id):
        raise NotFound(PARTNER_NOT_FOUND)
    today = paris_today(clock)
    row = await repository.scorecard_row(
        session,
        partner_id,
        period.start,
        period.end,
        today,
        very_late_before(today, very_overdue_working_days),
    )
    if row is None:
        raise NotFound(PARTNER_NOT_FOUND)
    return PartnerScorecardRead(
        partner_id=partner_id,
        partner_name=row.name,
        period=period,
        as_of=today,
        requested=row.requested,
        acknowledged=row.acknowledged,
        answered=row.answered,
        answered_within_deadline=row.answered_by_deadline,
        answered_within_deadline_percent=answered_within_deadline_percent(row),
        median_response_working_days=None if row.median_delay is None else float(row.median_delay),
        p90_response_working_days=row.p90_delay,
        delivered=row.delivered,
        verified=row.verified,
        overdue_now=LateCount(
            total=row.late, waiting_on_partner=row.late_on_partner, waiting_on_city=row.late_on_city
        ),
        very_overdue_now=LateCount(
            total=row.very_late,
            waiting_on_partner=row.very_late_on_partner,
            waiting_on_city=row.very_late_on_city,
        ),
        reminders_sent=row.sent,
        reminders_unreached=row.unreached,
    )


def answered_within_deadline_percent(row: Row[Any]) -> float | None:
    """The share of the answers with a response date that came by it (%, one decimal); None without any."""
    with_deadline: int = row.answered_with_deadline
    by_deadline: int = row.answered_by_deadline
    return round(100 * by_deadline / with_deadline, 1) if with_deadline else None


async def partner_scorecards(
    session: AsyncSession, principal: Principal, clock: Clock, period: Period, very_overdue_working_days: int
) -> list[PartnerScorecardRead]:
    """The scorecard of every partner the caller may see, by name."""
    return [
        await partner_scorecard(session, principal, clock, partner.id, period, very_overdue_working_days)
        for partner in await repository.partners(session, visible_to(principal))
    ]


def _late_item(row: Row[Any], today: date) -> LateItemRead:
    return LateItemRead(
        item_id=row.id,
        title=row.title,
        kind=row.kind,
        status=row.status,
        plan_id=row.plan_id,
        objective_id=row.objective_id,
        lead_partner_id=row.lead_partner_id,
        waiting_on=row.waiting_on,
        due_on=row.due_on,
        working_days_late=default_calendar().working_days_between(row.due_on, today),
    )


async def late_items(
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    limit: int = 1000,
) -> list[LateItemRead]:
    """Items late today, the longest late first, each with the party it waits on."""
    check_partner_filter(principal, partner_id)
    today = paris_today(clock)
    rows = await repository.late_items(session, today, visible_to(principal), plan_id, partner_id, limit)
    return [_late_item(row, today) for row in rows]


def _progress(counts: dict[str, list[int]], late: int) -> dict[str, Any]:
    """Roll-up of {status: [items, progress sum]}: counts by status and the mean progress."""
    items = sum(count for count, _ in counts.values())
    progressing = [
        (count, total) for status, (count, total) in counts.items() if status not in NOT_PROGRESSING
    ]
    counted = sum(count for count, _ in progressing)
    mean = round(sum(total for _, total in progressing) / counted, 1) if counted else None
    by_status = [
        StatusCount(status=status, items=counts[status][0]) for status in ALL_STATUSES if status in counts
    ]
    return {"items": items, "progress_percent": mean, "by_status": by_status, "late": late}


def _merge(into: dict[str, list[int]], other: dict[str, list[int]]) -> None:
    for status, (count, total) in other.items():
        into.setdefault(status, [0, 0])
        into[status][0] += count
        into[status][1] += total


async def plan_progress(
    session: AsyncSession, principal: Principal, clock: Clock, plan_id: uuid.UUID
) -> PlanProgressRead:
    """Progress of a plan by axis and objective, with its late items (a partner: over its own items only)."""
    plan = await repository.plan(session, plan_id)
    if plan is None:
        raise NotFound(PLAN_NOT_FOUND)
    today = paris_today(clock)
    visible = visible_to(principal)
    axes, objectives = await repository.plan_structure(session, plan_id)
    by_objective: dict[uuid.UUID, dict[str, list[int]]] = {}
    for row in await repository.status_counts(session, plan_id, visible):
        by_objective.setdefault(row.objective_id, {})[row.status] = [int(row.items), int(row.progress)]
    late = [
        _late_item(row, today)
        for row in await repository.late_items(session, today, visible, plan_id=plan_id, limit=100_000)
    ]
    late_by_objective: dict[uuid.UUID, int] = {}
    for item in late:
        late_by_objective[item.objective_id] = late_by_objective.get(item.objective_id, 0) + 1
    axis_reads = []
    whole: dict[str, list[int]] = {}
    for axis in axes:
        axis_counts: dict[str, list[int]] = {}
        objective_reads = []
        for objective in (o for o in objectives if o.axis_id == axis.id):
            counts = by_objective.get(objective.id, {})
            _merge(axis_counts, counts)
            objective_reads.append(
                ObjectiveProgressRead(
                    objective_id=objective.id,
                    letter=objective.letter,
                    title=objective.title,
                    **_progress(counts, late_by_objective.get(objective.id, 0)),
                )
            )
        _merge(whole, axis_counts)
        axis_reads.append(
            AxisProgressRead(
                axis_id=axis.id,
                number=axis.number,
                title=axis.title,
                objectives=objective_reads,
                **_progress(axis_counts, sum(o.late for o in objective_reads)),
            )
        )
    return PlanProgressRead(
        plan_id=plan.id,
        title=plan.title,
        commune=plan.commune,
        as_of=today,
        axes=axis_reads,
        late_items=late,
        **_progress(whole, len(late)),
    )


def _deadline(row: Row[Any], today: date) -> DeadlineReportRead:
    calendar = default_calendar()
    return DeadlineReportRead(
        deadline_id=row.id,
        item_id=row.item_id,
        item_title=row.title,
        item_status=row.status,
        plan_id=row.plan_id,
        lead_partner_id=row.lead_partner_id,
        waiting_on=row.waiting_on,
        kind=row.kind,
        original_due_on=row.original_due_on,
        due_on=row.due_on,
        met_on=row.met_on,
        slippage_working_days=calendar.working_days_between(row.original_due_on, row.due_on),
        working_days_late=max(calendar.working_days_between(row.due_on, today), 0)
        if row.met_on is None and row.due_on < today
        else 0,
    )


async def deadlines(
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    within_days: int,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    limit: int = 1000,
) -> DeadlinesReportRead:
    """Open deadlines coming within `within_days` calendar days, and those overdue."""
    check_partner_filter(principal, partner_id)
    today = paris_today(clock)
    visible = visible_to(principal)
    upcoming = await repository.deadlines(
        session,
        visible,
        due_from=today,
        due_before=today + timedelta(days=within_days + 1),
        plan_id=plan_id,
        partner_id=partner_id,
        limit=limit,
    )
    overdue = await repository.deadlines(
        session, visible, due_before=today, plan_id=plan_id, partner_id=partner_id, limit=limit
    )
    return DeadlinesReportRead(
        as_of=today,
        upcoming=[_deadline(row, today) for row in upcoming],
        overdue=[_deadline(row, today) for row in overdue],
    )


async def slippage(
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    limit: int = 1000,
) -> SlippageRead:
    """Deadlines whose date in force differs from the first one set, the most slipped first."""
    check_partner_filter(principal, partner_id)
    today = paris_today(clock)
    rows = await repository.deadlines(
        session,
        visible_to(principal),
        open_only=False,
        moved_only=True,
        plan_id=plan_id,
        partner_id=partner_id,
        limit=limit,
    )
    moved = sorted(
        (_deadline(row, today) for row in rows),
        key=lambda read: (-read.slippage_working_days, read.due_on, read.deadline_id),
    )
    return SlippageRead(
        deadlines=moved, total_slippage_working_days=sum(d.slippage_working_days for d in moved)
    )


async def item_timeline(session: AsyncSession, principal: Principal, item_id: uuid.UUID) -> TimelineRead:
    """An item's history from the events, oldest first (404 for an item the caller may not see). A partner
    does not see what went to another partner's people about a shared item."""
    visible = visible_to(principal)
    item = await repository.visible_item(session, item_id, visible)
    if item is None:
        raise NotFound(ITEM_NOT_FOUND)
    entries = [
        TimelineEntryRead.model_validate(entry, from_attributes=True)
        for entry in await repository.timeline(session, item_id)
    ]
    if visible is not None:
        entries = [entry for entry in entries if not _about_another_partner(entry.details, visible)]
    return TimelineRead(item_id=item.id, title=item.title, status=item.status, entries=entries)


def _about_another_partner(details: dict[str, Any], visible: Visible) -> bool:
    partner = details.get("partner_id")
    return partner is not None and visible is not None and uuid.UUID(partner) not in visible


async def deadline_list(
    session: AsyncSession,
    visible: Visible,
    today: date,
    *,
    open_only: bool = True,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    owner_contact_id: uuid.UUID | None = None,
    limit: int = 100_000,
) -> list[DeadlineReportRead]:
    """Deadlines of the visible items (the open ones, or all but removed ones), by date in force then title, as
    the deadlines report shows each one (exports and calendar feeds; `owner_contact_id`: of one city agent's
    items)."""
    rows = await repository.deadlines(
        session,
        visible,
        open_only=open_only,
        plan_id=plan_id,
        partner_id=partner_id,
        limit=limit,
        owner_contact_id=owner_contact_id,
    )
    return [_deadline(row, today) for row in rows]


# --- Added for the intranet page (services/reporting/pages/) -------------------------------------------------


async def plans(session: AsyncSession, principal: Principal) -> list[tuple[uuid.UUID, str]]:
    """The plans the caller has something in (id, title), by title."""
    return [(plan.id, plan.title) for plan in await repository.plans(session, visible_to(principal))]


async def partner_names(
    session: AsyncSession, principal: Principal, ids: set[uuid.UUID | None]
) -> dict[uuid.UUID, str]:
    """The names of these partners that the caller may see (to name the lead of a late item, a deadline)."""
    return await repository.partner_names(
        session, {pid for pid in ids if pid is not None and principal.may_see_partner(pid)}
    )


async def organisation_of(session: AsyncSession, partner_id: uuid.UUID) -> frozenset[uuid.UUID] | None:
    """A partner and the groups it belongs to (what its key would see), or None for an unknown partner."""
    return await repository.organisation_of(session, partner_id) or None
