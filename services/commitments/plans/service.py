"""Plans, their axes and objectives, and progress rolled up from items."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.history.service import diff, record_change
from services.commitments.outbox.recorder import record_event
from services.commitments.partners import repository as partners_repository
from services.commitments.partners.scopes import serves
from services.commitments.plans import repository
from services.commitments.plans.models import Axis, Objective, Plan
from services.commitments.plans.schemas import (
    AxisCreate,
    AxisRead,
    ObjectiveCreate,
    ObjectiveRead,
    PlanCreate,
    PlanRead,
    PlanSummary,
    PlanUpdate,
)
from shared.auth import Principal
from shared.clock import Clock
from shared.events.commitments import AxisCreated, ObjectiveCreated, PlanCreated
from shared.problems import Conflict, InvalidInput, NotFound


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
        children = [
            ObjectiveRead(
                id=o.id,
                letter=o.letter,
                title=o.title,
                context=o.context,
                position=o.position,
                item_count=per_objective.get(o.id, (0, 0))[0],
                progress_percent=_average(*per_objective.get(o.id, (0, 0))),
            )
            for o in objectives
            if o.axis_id == axis.id
        ]
        count, total = per_axis[axis.id]
        axes.append(
            AxisRead(
                id=axis.id,
                number=axis.number,
                title=axis.title,
                position=axis.position,
                item_count=count,
                progress_percent=_average(count, total),
                objectives=children,
            )
        )
    count = sum(a.item_count for a in axes)
    total = sum(per_axis[a.id][1] for a in axes)
    return PlanRead(
        **PlanSummary.model_validate(plan).model_dump(),
        item_count=count,
        progress_percent=_average(count, total),
        axes=axes,
    )


async def create_plan(session: AsyncSession, actor: Principal, clock: Clock, data: PlanCreate) -> Plan:
    """Create an empty plan (axes and objectives are added next, or imported from text)."""
    plan = Plan(
        title=data.title,
        commune=data.commune,
        territory=data.territory,
        adopted_on=data.adopted_on,
        created_at=clock.now(),
    )
    session.add(plan)
    await session.flush()
    record_change(
        session,
        actor,
        clock,
        entity_type="plan",
        entity_id=plan.id,
        action="created",
        changes=data.model_dump(mode="json"),
    )
    record_event(session, PlanCreated(plan_id=plan.id, title=plan.title, commune=plan.commune), actor, clock)
    return plan


async def update_plan(
    session: AsyncSession, actor: Principal, clock: Clock, plan: Plan, data: PlanUpdate
) -> Plan:
    """Change a plan's title, territory, adoption date or elected official."""
    changes = data.model_dump(exclude_unset=True)
    if changes.get("title", "") is None:
        raise InvalidInput("title ne peut pas être vide.")
    if (
        changes.get("elected_contact_id") is not None
        and await repository.get_contact(session, changes["elected_contact_id"]) is None
    ):
        raise InvalidInput("elected_contact_id ne désigne aucun contact.")
    before = {field: getattr(plan, field) for field in changes}
    for field, value in changes.items():
        setattr(plan, field, value)
    if "territory" in changes:
        await _check_groups_still_served(session, plan)
    await session.flush()
    if changed := diff(before, changes):
        record_change(
            session, actor, clock, entity_type="plan", entity_id=plan.id, action="updated", changes=changed
        )
    return plan


async def _check_groups_still_served(session: AsyncSession, plan: Plan) -> None:
    """A plan cannot leave the territory whose groups its items name (they would reach another territory's
    members, or nobody)."""
    stranded = [
        group
        for group in await partners_repository.groups_named_in_plan(session, plan.id)
        if not serves(group, plan)
    ]
    if stranded:
        names = ", ".join(f"« {group.name} »" for group in stranded)
        raise Conflict(
            f"Des éléments du plan désignent des groupes du territoire actuel ({names}) : changer "
            "leur partenaire ou le périmètre de ces groupes avant de changer de territoire.",
            partner_ids=[str(group.id) for group in stranded],
        )


async def add_axis(
    session: AsyncSession, actor: Principal, clock: Clock, plan: Plan, data: AxisCreate
) -> Axis:
    """Append an axis to a plan; its number is unique within the plan."""
    axes = await repository.axes_of(session, plan.id)
    if any(a.number == data.number for a in axes):
        raise Conflict(f"Le plan a déjà un axe {data.number}.")
    axis = Axis(plan_id=plan.id, number=data.number, title=data.title, position=len(axes) + 1)
    session.add(axis)
    await session.flush()
    record_change(
        session,
        actor,
        clock,
        entity_type="axis",
        entity_id=axis.id,
        action="created",
        changes=data.model_dump(mode="json"),
    )
    record_event(
        session,
        AxisCreated(
            axis_id=axis.id, plan_id=plan.id, number=axis.number, title=axis.title, position=axis.position
        ),
        actor,
        clock,
    )
    return axis


async def add_objective(
    session: AsyncSession, actor: Principal, clock: Clock, axis_id: uuid.UUID, data: ObjectiveCreate
) -> Objective:
    """Append an objective to an axis; its letter is unique within the axis."""
    axis = await repository.get_axis(session, axis_id)
    if axis is None:
        raise NotFound("Axe introuvable.")
    objectives = await repository.objectives_of(session, axis.plan_id)
    if any(o.axis_id == axis.id and o.letter == data.letter for o in objectives):
        raise Conflict(f"L'axe {axis.number} a déjà un objectif {data.letter}.")
    objective = Objective(
        plan_id=axis.plan_id,
        axis_id=axis.id,
        letter=data.letter,
        title=data.title,
        context=data.context,
        position=len(objectives) + 1,
    )
    session.add(objective)
    await session.flush()
    record_change(
        session,
        actor,
        clock,
        entity_type="objective",
        entity_id=objective.id,
        action="created",
        changes=data.model_dump(mode="json"),
    )
    record_event(
        session,
        ObjectiveCreated(
            objective_id=objective.id,
            axis_id=axis.id,
            plan_id=axis.plan_id,
            letter=objective.letter,
            title=objective.title,
            position=objective.position,
        ),
        actor,
        clock,
    )
    return objective
