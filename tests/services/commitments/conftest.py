"""Fixtures for the commitments service: the app on a real database and NATS, keys per role, cleanup."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.commitments.app import create_app
from services.commitments.auth.service import create_key
from services.commitments.config import CommitmentsSettings
from services.commitments.models import Base
from services.commitments.outbox.models import OutboxMessage
from services.commitments.partners.directory import DirectoryFile, DirectoryReport, import_directory
from services.commitments.partners.schemas import PartnerCreate, PartnerKind
from services.commitments.partners.service import create_partner
from services.commitments.plans.models import Objective
from shared.auth import SYSTEM, Role
from shared.clock import FixedClock
from shared.db import create_engine
from tests.services.commitments.factories import create_plan_axis_objective
from tests.services.commitments.sample_data import sample_directory


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday


@pytest.fixture
def settings(
    database_url: str, nats_url: str, stream_names: tuple[str, str], tmp_path: Any
) -> CommitmentsSettings:
    return CommitmentsSettings(
        database_url=database_url,
        nats_url=nats_url,
        events_stream=stream_names[0],
        events_subject_prefix=stream_names[1],
        data_dir=tmp_path,
        relay_in_process=False,
        log_json=False,
        tracing=True,
    )


@pytest.fixture
async def app(settings: CommitmentsSettings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock)
    async with LifespanManager(application):
        yield application
    # Each test starts from empty tables: delete everything this test wrote.
    engine = create_app.__globals__["create_engine"](settings.database_url)
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))
    await engine.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database without the app (the unit of work and the outbox on their own); the outbox
    is emptied after the test."""
    engine = create_engine(database_url)
    yield engine
    async with engine.begin() as connection:
        await connection.execute(delete(OutboxMessage))
    await engine.dispose()


@dataclass
class SeededApp:
    app: FastAPI
    admin_secret: str
    ids: dict[str, str]  # plan_id, axis_id, objective_id


@pytest.fixture(scope="module")
async def seeded_app(
    database_url: str, nats_url: str, stream_names: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SeededApp]:
    """A running app with an admin key and a plan/axis/objective, for a whole test module (the `app` fixture is
    one per test); every table is emptied when the module is done."""
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    settings = CommitmentsSettings(
        database_url=database_url,
        nats_url=nats_url,
        events_stream=stream_names[0],
        events_subject_prefix=stream_names[1],
        data_dir=tmp_path_factory.mktemp("data"),
        relay_in_process=False,
        log_json=False,
    )
    application = create_app(settings, clock)
    async with LifespanManager(application):
        async with application.state.sessionmaker() as session, session.begin():
            _, secret = await create_key(
                session, SYSTEM, clock, name="admin", role=Role.ADMIN, partner_id=None
            )
            plan, axis, objective = await create_plan_axis_objective(session, clock)
        try:
            yield SeededApp(
                application,
                secret,
                {"plan_id": str(plan.id), "axis_id": str(axis.id), "objective_id": str(objective.id)},
            )
        finally:
            async with application.state.engine.begin() as connection:
                for table in reversed(Base.metadata.sorted_tables):
                    await connection.execute(delete(table))


@pytest.fixture
def client_for(app: FastAPI) -> Callable[[str | None], httpx.AsyncClient]:
    """An HTTP client speaking to the app with the given API key (or none)."""
    clients: list[httpx.AsyncClient] = []

    def make(secret: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers
        )
        clients.append(client)
        return client

    return make


@pytest.fixture
def make_key(app: FastAPI, clock: FixedClock) -> Callable[..., Awaitable[str]]:
    """Create an API key directly in the database and return its secret."""

    async def make(role: Role, partner_id: uuid.UUID | None = None) -> str:
        async with app.state.sessionmaker() as session, session.begin():
            _, secret = await create_key(
                session, SYSTEM, clock, name=f"test {role}", role=role, partner_id=partner_id
            )
        return secret

    return make


@pytest.fixture
async def admin(
    make_key: Callable[..., Awaitable[str]], client_for: Callable[[str | None], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return client_for(await make_key(Role.ADMIN))


@pytest.fixture
def make_partner(app: FastAPI, clock: FixedClock) -> Callable[..., Awaitable[uuid.UUID]]:
    async def make(
        name: str,
        kind: PartnerKind = PartnerKind.BAILLEUR_SOCIAL,
        member_ids: list[uuid.UUID] | None = None,
        is_group: bool = False,
        scope_plan_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        async with app.state.sessionmaker() as session, session.begin():
            partner = await create_partner(
                session,
                SYSTEM,
                clock,
                PartnerCreate(
                    name=name,
                    kind=kind,
                    is_group=is_group,
                    member_ids=member_ids or [],
                    scope_plan_id=scope_plan_id,
                ),
            )
        return partner.id

    return make


@pytest.fixture
def plan_of(app: FastAPI) -> Callable[[uuid.UUID], Awaitable[uuid.UUID]]:
    """The plan an objective belongs to (a group is created for one plan)."""

    async def find(objective_id: uuid.UUID) -> uuid.UUID:
        async with app.state.sessionmaker() as session:
            objective = await session.get(Objective, objective_id)
            assert objective is not None
            return objective.plan_id

    return find


@pytest.fixture
def make_objective(app: FastAPI, clock: FixedClock) -> Callable[[], Awaitable[uuid.UUID]]:
    """A plan with one axis and one objective; returns the objective id."""

    async def make() -> uuid.UUID:
        async with app.state.sessionmaker() as session, session.begin():
            _, _, objective = await create_plan_axis_objective(
                session, clock, title=f"Plan {uuid.uuid4().hex[:6]}"
            )
            return objective.id

    return make


@pytest.fixture
def load_directory(app: FastAPI, clock: FixedClock) -> Callable[..., Awaitable[DirectoryReport]]:
    """Import a directory of partners (by default the sample directory of Sceaux) in a transaction of its own."""

    async def load(directory: DirectoryFile | None = None) -> DirectoryReport:
        async with app.state.sessionmaker() as session, session.begin():
            return await import_directory(session, SYSTEM, clock, directory or sample_directory())

    return load


@pytest.fixture
def outbox_count(app: FastAPI) -> Callable[[], Awaitable[int]]:
    """How many events the outbox holds."""

    async def count() -> int:
        async with app.state.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)

    return count


@pytest.fixture
def items_of(admin: httpx.AsyncClient) -> Callable[[uuid.UUID | str], Awaitable[dict[str, dict[str, Any]]]]:
    """A plan's items by reference, as the API shows them to the admin."""

    async def read(plan_id: uuid.UUID | str) -> dict[str, dict[str, Any]]:
        page = (await admin.get("/v1/items", params={"plan_id": str(plan_id), "limit": 200})).json()
        return {item["reference"]: item for item in page["items"]}

    return read


@pytest.fixture
def partners_by_name(admin: httpx.AsyncClient) -> Callable[[], Awaitable[dict[str, dict[str, Any]]]]:
    """The partners by name, as the API shows them to the admin."""

    async def read() -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in (await admin.get("/v1/partners")).json()}

    return read
