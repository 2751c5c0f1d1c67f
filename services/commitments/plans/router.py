from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.commitments.dependencies import ClockDep, EditorDep, PrincipalDep, SessionDep
from services.commitments.plans import service
from services.commitments.plans.importer import import_plan_text
from services.commitments.plans.schemas import (
    AxisCreate,
    AxisRead,
    FlaggedItemRead,
    ImportReportRead,
    ObjectiveCreate,
    ObjectiveRead,
    PlanCreate,
    PlanImport,
    PlanRead,
    PlanSummary,
    PlanUpdate,
    ReviewFlagOut,
)

router = APIRouter(prefix="/v1", tags=["Plans"])


@router.get("/plans", response_model=list[PlanSummary])
async def list_plans(session: SessionDep, _: PrincipalDep) -> list[PlanSummary]:
    """The city's action plans (public documents: every role may read them)."""
    return [PlanSummary.model_validate(plan) for plan in await service.list_plans(session)]


@router.post("/plans", status_code=201, response_model=PlanRead)
async def create_plan(body: PlanCreate, session: SessionDep, clock: ClockDep, editor: EditorDep) -> PlanRead:
    """Create an empty plan."""
    return await service.plan_tree(session, await service.create_plan(session, editor, clock, body))


@router.post("/plans/import", response_model=ImportReportRead)
async def import_plan(
    body: PlanImport, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> ImportReportRead:
    """Create a plan from its text, or complete the plan `plan_id`; reports what was created and what to check.
    A text already imported is a 409 `plan-already-imported` naming its plan (`plan_id`)."""
    report = await import_plan_text(
        session,
        editor,
        clock,
        body.text,
        plan_id=body.plan_id,
        commune=body.commune,
        territory=body.territory,
        title=body.title,
        adopted_on=body.adopted_on,
        tags=body.tags,
    )
    return ImportReportRead(
        plan_id=report.plan_id,
        created_plan=report.created_plan,
        axes=report.axes,
        objectives=report.objectives,
        items=report.items,
        created_items=report.created_items,
        unchanged_items=report.unchanged_items,
        created_partners=report.created_partners,
        flagged=[
            FlaggedItemRead(
                reference=flagged.reference,
                reasons="\n".join(f.message for f in flagged.flags),
                flags=[ReviewFlagOut(code=f.code, message=f.message) for f in flagged.flags],
            )
            for flagged in report.flagged
        ],
    )


@router.get("/plans/{plan_id}", response_model=PlanRead)
async def get_plan(plan_id: uuid.UUID, session: SessionDep, _: PrincipalDep) -> PlanRead:
    """A plan with its axes and objectives and their progress rolled up from items."""
    return await service.plan_tree(session, await service.get_plan(session, plan_id))


@router.patch("/plans/{plan_id}", response_model=PlanRead)
async def update_plan(
    plan_id: uuid.UUID, body: PlanUpdate, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> PlanRead:
    """Change a plan's title, territory, adoption date or elected official in charge."""
    plan = await service.update_plan(session, editor, clock, await service.get_plan(session, plan_id), body)
    return await service.plan_tree(session, plan)


@router.post("/plans/{plan_id}/axes", status_code=201, response_model=AxisRead)
async def add_axis(
    plan_id: uuid.UUID, body: AxisCreate, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> AxisRead:
    """Append an axis to a plan."""
    axis = await service.add_axis(session, editor, clock, await service.get_plan(session, plan_id), body)
    return AxisRead(
        id=axis.id,
        number=axis.number,
        title=axis.title,
        position=axis.position,
        item_count=0,
        progress_percent=None,
        objectives=[],
    )


@router.post("/axes/{axis_id}/objectives", status_code=201, response_model=ObjectiveRead)
async def add_objective(
    axis_id: uuid.UUID, body: ObjectiveCreate, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> ObjectiveRead:
    """Append an objective to an axis."""
    objective = await service.add_objective(session, editor, clock, axis_id, body)
    return ObjectiveRead(
        id=objective.id,
        letter=objective.letter,
        title=objective.title,
        context=objective.context,
        position=objective.position,
        item_count=0,
        progress_percent=None,
    )
