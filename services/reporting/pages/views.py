"""What each page shows, gathered from the reports' service layer (no query of its own): the figures come
scoped to the visitor exactly as the JSON reports do."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.reports import service
from services.reporting.reports.schemas import (
    DeadlineReportRead,
    LateItemRead,
    PartnerScorecardRead,
    Period,
    PlanProgressRead,
)
from shared.auth import Principal
from shared.clock import Clock

UPCOMING_DAYS = 30
LISTED = 200  # late items and deadlines listed on the overview (the exports carry them all)


@dataclass(frozen=True)
class PartnerSection:
    scorecard: PartnerScorecardRead
    late: list[LateItemRead]
    upcoming: list[DeadlineReportRead]


@dataclass(frozen=True)
class Dashboard:
    period: Period
    plans: list[PlanProgressRead]
    late: list[LateItemRead]
    upcoming: list[DeadlineReportRead]
    partners: list[PartnerSection]
    names: dict[uuid.UUID, str]
    listed: int

    @property
    def late_total(self) -> int:
        """Every late item the visitor may see (the list stops at `listed`)."""
        return sum(plan.late for plan in self.plans)


async def _partner_section(
    session: AsyncSession, principal: Principal, clock: Clock, card: PartnerScorecardRead
) -> PartnerSection:
    late = await service.late_items(session, principal, clock, partner_id=card.partner_id, limit=LISTED)
    deadlines = await service.deadlines(
        session, principal, clock, UPCOMING_DAYS, partner_id=card.partner_id, limit=LISTED
    )
    return PartnerSection(card, late, deadlines.upcoming)


async def dashboard(
    session: AsyncSession, principal: Principal, clock: Clock, period: Period, very_overdue_working_days: int
) -> Dashboard:
    """The overview: each plan's progress by axis, the late items, the deadlines to come, one section per
    partner the visitor may see."""
    plans = [
        await service.plan_progress(session, principal, clock, plan_id)
        for plan_id, _ in await service.plans(session, principal)
    ]
    late = await service.late_items(session, principal, clock, limit=LISTED)
    upcoming = (await service.deadlines(session, principal, clock, UPCOMING_DAYS, limit=LISTED)).upcoming
    cards = await service.partner_scorecards(session, principal, clock, period, very_overdue_working_days)
    partners = [await _partner_section(session, principal, clock, card) for card in cards]
    leads = {item.lead_partner_id for item in late} | {deadline.lead_partner_id for deadline in upcoming}
    return Dashboard(
        period,
        plans,
        late,
        upcoming,
        partners,
        await service.partner_names(session, principal, leads),
        LISTED,
    )


async def partner_page(
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    partner_id: uuid.UUID,
    period: Period,
    very_overdue_working_days: int,
) -> PartnerSection:
    """One partner's page (NotFound for a partner the visitor may not see)."""
    card = await service.partner_scorecard(
        session, principal, clock, partner_id, period, very_overdue_working_days
    )
    return await _partner_section(session, principal, clock, card)


def period(clock: Clock, start: date | None, end: date | None) -> Period:
    return service.default_period(clock, start, end)
