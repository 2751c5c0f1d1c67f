from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.commitments.dependencies import PrincipalDep, SessionDep
from services.commitments.plans import service
from services.commitments.plans.schemas import PlanRead, PlanSummary

router = APIRouter(prefix="/v1/plans", tags=["Plans"])


@router.get("", response_model=list[PlanSummary])
async def list_plans(session: SessionDep, _: PrincipalDep) -> list[PlanSummary]:
    """The city's action plans (public documents: every role may read them)."""
    return [PlanSummary.model_validate(plan) for plan in await service.list_plans(session)]


@router.get("/{plan_id}", response_model=PlanRead)
async def get_plan(plan_id: uuid.UUID, session: SessionDep, _: PrincipalDep) -> PlanRead:
    """A plan with its axes and objectives and their progress rolled up from items."""
    return await service.plan_tree(session, await service.get_plan(session, plan_id))
