"""The engine's pool on PostgreSQL: a connection idle for a while is pinged and replaced when the server
dropped it; one used a moment ago is not pinged, and a drop is then noticed by the request that uses it."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db import create_engine


async def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(database_url: str, pid: int) -> None:
    admin = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        # Wait until the backend is gone, so the pool really holds a dead connection.
        while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            pass
    finally:
        await admin.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, ping_after_idle_seconds=0)
    try:
        pid = await _backend_pid(engine)
        await _terminate(database_url, pid)
        assert await _backend_pid(engine) != pid  # pinged at checkout, replaced, and the statement ran
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_used_a_moment_ago_is_not_pinged(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, ping_after_idle_seconds=3600)
    try:
        pid = await _backend_pid(engine)
        await _terminate(database_url, pid)
        with pytest.raises(DBAPIError) as failure:  # the request that finds the drop fails ...
            await _backend_pid(engine)
        assert failure.value.connection_invalidated
        assert await _backend_pid(engine) != pid  # ... and the next one gets a new connection
    finally:
        await engine.dispose()
