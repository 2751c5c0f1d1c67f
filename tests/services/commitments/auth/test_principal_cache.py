"""The commitments service's own key checks: concurrent requests with a key not in the cache share one look-up,
a refused key is remembered briefly, and a revocation in this process is honoured at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete, event

from services.commitments.app import create_app
from services.commitments.auth.service import create_key
from services.commitments.config import CommitmentsSettings
from services.commitments.models import Base
from shared.auth import SYSTEM, Role
from shared.clock import FixedClock


@pytest.fixture
async def roomy_app(settings: CommitmentsSettings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    """The app with room for a burst of 500 requests at once (admission is not what is tested here)."""
    application = create_app(
        settings.model_copy(update={"max_in_flight_requests": 1000, "database_pool_timeout_seconds": 30.0}),
        clock,
    )
    async with LifespanManager(application):
        yield application
    async with application.state.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))


@pytest.fixture
def key_lookups(roomy_app: FastAPI) -> Callable[[], int]:
    """How many statements have read the api_keys table so far."""
    seen = {"count": 0}

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM api_keys" in statement:
            seen["count"] += 1

    event.listen(roomy_app.state.engine.sync_engine, "before_cursor_execute", count)
    return lambda: seen["count"]


async def new_key(app: FastAPI, clock: FixedClock, role: Role = Role.CITY) -> tuple[str, str]:
    async with app.state.sessionmaker() as session, session.begin():
        key, secret = await create_key(session, SYSTEM, clock, name="burst", role=role, partner_id=None)
    return str(key.id), secret


def client(app: FastAPI, secret: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers={"Authorization": f"Bearer {secret}"},
    )


async def burst(app: FastAPI, secret: str, count: int = 500) -> set[int]:
    async with client(app, secret) as caller:
        responses = await asyncio.gather(*(caller.get("/v1/auth/whoami") for _ in range(count)))
    return {response.status_code for response in responses}


async def test_a_burst_with_one_key_looks_it_up_once(
    roomy_app: FastAPI, clock: FixedClock, key_lookups: Callable[[], int]
) -> None:
    _, secret = await new_key(roomy_app, clock)
    assert await burst(roomy_app, secret) == {200}
    assert key_lookups() == 1


async def test_a_bad_key_is_looked_up_once_then_refused_from_the_cache(
    roomy_app: FastAPI, key_lookups: Callable[[], int]
) -> None:
    assert await burst(roomy_app, "eng_not-a-key") == {401}
    assert await burst(roomy_app, "eng_not-a-key", 10) == {401}
    assert key_lookups() == 1


async def test_a_key_revoked_here_is_refused_at_once(roomy_app: FastAPI, clock: FixedClock) -> None:
    key_id, secret = await new_key(roomy_app, clock)
    _, admin = await new_key(roomy_app, clock, Role.ADMIN)
    assert await burst(roomy_app, secret, 5) == {200}
    async with client(roomy_app, admin) as caller:
        assert (await caller.post(f"/v1/api-keys/{key_id}/revoke")).status_code == 200
    assert await burst(roomy_app, secret, 5) == {401}
