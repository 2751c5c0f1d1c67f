"""Objects written straight into the commitments database, for tests that need them without going through the
API."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.plans.models import Axis, Objective, Plan
from shared.clock import Clock


async def create_plan_axis_objective(
    session: AsyncSession, clock: Clock, title: str = "Plan d'action — quartier des Blagis"
) -> tuple[Plan, Axis, Objective]:
    """A plan with one axis (I) and one objective (A), written directly in the database."""
    plan = Plan(title=title, commune="Sceaux", created_at=clock.now())
    session.add(plan)
    await session.flush()
    axis = Axis(plan_id=plan.id, number="I", title="BIEN VIVRE", position=1)
    session.add(axis)
    await session.flush()
    objective = Objective(
        plan_id=plan.id, axis_id=axis.id, letter="A", title="CADRE DE VIE", position=1, context=""
    )
    session.add(objective)
    await session.flush()
    return plan, axis, objective
