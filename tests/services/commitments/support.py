"""Helpers shared by the commitments tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.app import create_app
from services.commitments.auth.service import create_key
from services.commitments.config import CommitmentsSettings
from services.commitments.models import Base
from services.commitments.plans.models import Axis, Objective, Plan
from shared.auth import SYSTEM, Role
from shared.clock import Clock, FixedClock


async def create_plan_axis_objective(session: AsyncSession, clock: Clock,
                                     title: str = "Plan d'action — quartier des Blagis"
                                     ) -> tuple[Plan, Axis, Objective]:
    """A plan with one axis (I) and one objective (A), written directly in the database."""
    plan = Plan(title=title, commune="Sceaux", created_at=clock.now())
    session.add(plan)
    await session.flush()
    axis = Axis(plan_id=plan.id, number="I", title="BIEN VIVRE", position=1)
    session.add(axis)
    await session.flush()
    objective = Objective(plan_id=plan.id, axis_id=axis.id, letter="A", title="CADRE DE VIE", position=1, context="")
    session.add(objective)
    await session.flush()
    return plan, axis, objective


@dataclass
class SeededApp:
    app: FastAPI
    admin_secret: str
    ids: dict[str, str]  # plan_id, axis_id, objective_id


@contextlib.asynccontextmanager
async def seeded_app(database_url: str, nats_url: str, stream_names: tuple[str, str], data_dir: Path
                     ) -> AsyncIterator[SeededApp]:
    """A running app with an admin key and a plan/axis/objective, for a whole test module; every table is
    emptied when it closes."""
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    settings = CommitmentsSettings(database_url=database_url, nats_url=nats_url, events_stream=stream_names[0],
                                   events_subject_prefix=stream_names[1], data_dir=data_dir,
                                   relay_in_process=False, log_json=False)
    app = create_app(settings, clock)
    async with LifespanManager(app):
        async with app.state.sessionmaker() as session, session.begin():
            _, secret = await create_key(session, SYSTEM, clock, name="admin", role=Role.ADMIN, partner_id=None)
            plan, axis, objective = await create_plan_axis_objective(session, clock)
        try:
            yield SeededApp(app, secret, {"plan_id": str(plan.id), "axis_id": str(axis.id),
                                          "objective_id": str(objective.id)})
        finally:
            async with app.state.engine.begin() as connection:
                for table in reversed(Base.metadata.sorted_tables):
                    await connection.execute(delete(table))
