"""Plans, their axes and objectives, and progress rolled up from items."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.plans import repository
from services.commitments.plans.models import Plan
from services.commitments.plans.schemas import AxisRead, ObjectiveRead, PlanRead, PlanSummary
from shared.problems import NotFound


def _average(count: int, total: int) -> float | None:
    return round(total / count, 1) if count else None


async def get_plan(session: AsyncSession, plan_id: uuid.UUID) -> Plan:
    """The plan, or NotFound."""
    plan = await repository.get(session, plan_id)
    if plan is None:
        raise NotFound("Plan introuvable.")
    return plan


async def list_plans(session: AsyncSession) -> Sequence[Plan]:
    """Every plan, oldest first."""
    return await repository.list_plans(session)


async def plan_tree(session: AsyncSession, plan: Plan) -> PlanRead:
    """The plan with its axes and objectives, each with its item count and average progress
    (abandoned items left out, an item without any progress report counting as 0 %)."""
    per_objective: dict[uuid.UUID, tuple[int, int]] = {}
    per_axis: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    for axis_id, objective_id, count, total in await repository.item_progress(session, plan.id):
        per_objective[objective_id] = (count, total)
        per_axis[axis_id][0] += count
        per_axis[axis_id][1] += total
    objectives = await repository.objectives_of(session, plan.id)
    axes = []
    for axis in await repository.axes_of(session, plan.id):
        children = [ObjectiveRead(id=o.id, letter=o.letter, title=o.title, context=o.context, position=o.position,
                                  item_count=per_objective.get(o.id, (0, 0))[0],
                                  progress_percent=_average(*per_objective.get(o.id, (0, 0))))
                    for o in objectives if o.axis_id == axis.id]
        count, total = per_axis[axis.id]
        axes.append(AxisRead(id=axis.id, number=axis.number, title=axis.title, position=axis.position,
                             item_count=count, progress_percent=_average(count, total), objectives=children))
    count = sum(a.item_count for a in axes)
    total = sum(per_axis[a.id][1] for a in axes)
    return PlanRead(**PlanSummary.model_validate(plan).model_dump(), item_count=count,
                    progress_percent=_average(count, total), axes=axes)
