from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, TypeAdapter

from services.reporting.dependencies import ClockDep, PrincipalDep, SessionDep, SettingsDep
from services.reporting.reports import service
from services.reporting.reports.schemas import (
    DeadlinesReportRead,
    LateItemRead,
    PartnerScorecardRead,
    PlanProgressRead,
    SlippageRead,
    TimelineRead,
)

router = APIRouter(prefix="/v1/reports", tags=["Reports"])

_PROBLEM = {
    "content": {
        "application/problem+json": {
            "example": {
                "type": "urn:engagements:problem:not-found",
                "title": "Introuvable",
                "status": 404,
                "detail": "Partenaire introuvable.",
                "code": "not-found",
            }
        }
    }
}

FromDate = Annotated[
    date | None,
    Query(
        alias="from",
        description="Début de la période (inclus) ; par défaut le 1er janvier de l'année de la fin.",
    ),
]
ToDate = Annotated[
    date | None,
    Query(alias="to", description="Fin de la période (incluse) ; par défaut aujourd'hui (Europe/Paris)."),
]
Limit = Annotated[int, Query(ge=1, le=10_000)]
_SCORECARDS = TypeAdapter(list[PartnerScorecardRead])


def _json(model: BaseModel) -> Response:
    """The schema the service built, serialised once by pydantic (FastAPI would dump it to a dict, validate it
    again against the response_model and render that: three passes). response_model still documents it."""
    return Response(model.model_dump_json(), media_type="application/json")


@router.get("/partners/scorecards", response_model=list[PartnerScorecardRead], responses={422: _PROBLEM})
async def partner_scorecards(
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    settings: SettingsDep,
    start: FromDate = None,
    end: ToDate = None,
) -> Response:
    """The scorecard of every partner the caller may see (a partner key: its own organisation)."""
    period = service.default_period(clock, start, end)
    cards = await service.partner_scorecards(
        session, principal, clock, period, settings.very_overdue_working_days
    )
    return Response(_SCORECARDS.dump_json(cards), media_type="application/json")


@router.get(
    "/partners/{partner_id}/scorecard",
    response_model=PartnerScorecardRead,
    responses={404: _PROBLEM, 422: _PROBLEM},
)
async def partner_scorecard(
    partner_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    settings: SettingsDep,
    start: FromDate = None,
    end: ToDate = None,
) -> Response:
    """A partner's scorecard over a period: requests, answers and delays, deliveries, lateness, reminders."""
    period = service.default_period(clock, start, end)
    return _json(
        await service.partner_scorecard(
            session, principal, clock, partner_id, period, settings.very_overdue_working_days
        )
    )


@router.get("/plans/{plan_id}/progress", response_model=PlanProgressRead, responses={404: _PROBLEM})
async def plan_progress(
    plan_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, clock: ClockDep
) -> PlanProgressRead:
    """A plan's progress by axis and objective: roll-up, counts by status, late items."""
    return await service.plan_progress(session, principal, clock, plan_id)


@router.get("/late-items", response_model=list[LateItemRead], responses={404: _PROBLEM})
async def late_items(
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    limit: Limit = 1000,
) -> list[LateItemRead]:
    """Items late today, the longest late first, each attributed to the party it waits on."""
    return await service.late_items(session, principal, clock, plan_id, partner_id, limit)


@router.get("/deadlines", response_model=DeadlinesReportRead, responses={404: _PROBLEM})
async def deadlines(
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    within_days: Annotated[
        int, Query(ge=0, le=366, description="Fenêtre des échéances à venir, en jours.")
    ] = 30,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    limit: Limit = 1000,
) -> DeadlinesReportRead:
    """Open deadlines: those coming within the window, and those overdue."""
    return await service.deadlines(session, principal, clock, within_days, plan_id, partner_id, limit)


@router.get("/deadlines/slippage", response_model=SlippageRead, responses={404: _PROBLEM})
async def slippage(
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    limit: Limit = 1000,
) -> SlippageRead:
    """Deadlines moved since first set, with their slippage in working days."""
    return await service.slippage(session, principal, clock, plan_id, partner_id, limit)


@router.get("/items/{item_id}/timeline", response_model=TimelineRead, responses={404: _PROBLEM})
async def item_timeline(item_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> TimelineRead:
    """An item's history, from the events of both streams, oldest first."""
    return await service.item_timeline(session, principal, item_id)
