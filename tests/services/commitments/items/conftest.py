from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI

from services.commitments.auth.principal import SYSTEM
from services.commitments.plans.models import Axis, Objective, Plan
from shared.clock import FixedClock


@pytest.fixture
def make_objective(app: FastAPI, clock: FixedClock) -> Callable[[], Awaitable[uuid.UUID]]:
    """A plan with one axis and one objective; returns the objective id."""

    async def make() -> uuid.UUID:
        async with app.state.sessionmaker() as session, session.begin():
            plan = Plan(title=f"Plan {uuid.uuid4().hex[:6]}", commune="Sceaux", created_at=clock.now())
            session.add(plan)
            await session.flush()
            axis = Axis(plan_id=plan.id, number="I", title="BIEN VIVRE", position=1)
            session.add(axis)
            await session.flush()
            objective = Objective(plan_id=plan.id, axis_id=axis.id, letter="A", title="CADRE DE VIE", position=1,
                                  context="")
            session.add(objective)
            await session.flush()
            return objective.id

    assert SYSTEM.can_edit
    return make
