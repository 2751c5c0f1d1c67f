"""Admission control under a real uvicorn, on SQLite and PostgreSQL: past the bound a request gets a 503 with
Retry-After (never another 5xx), a pool timeout is the same 503, and a client that leaves stops costing its
turn and its database connection. No timing is asserted: which path answered is read from the counters."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.admission import Admission, AdmissionControl
from shared.db import create_engine
from shared.health import add_health_routes
from shared.http_limits import BodySizeLimit
from shared.problems import install_problem_handlers
from tests.waiting import wait_until

HOLD_SECONDS = 0.3  # how long a slow request holds its connection: longer than the test's pool timeout
POOL_TIMEOUT_SECONDS = 0.1


@dataclass
class Served:
    url: str
    port: int
    app: FastAPI
    engine: AsyncEngine
    admission: Admission

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"


def build_app(engine: AsyncEngine, admission: Admission) -> FastAPI:
    """The middleware as the services stack it, around routes that hold a pooled connection."""
    app = FastAPI()
    install_problem_handlers(app)
    add_health_routes(app, engine)

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        async with engine.connect():  # checked out, held, given back
            await asyncio.sleep(HOLD_SECONDS)
        return {"status": "done"}

    @app.post("/slow")
    async def slow_write(request: Request) -> dict[str, int]:
        body = await request.body()
        async with engine.connect():
            await asyncio.sleep(HOLD_SECONDS)
        return {"received": len(body)}

    @app.get("/forever")
    async def forever() -> None:
        async with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                await connection.execute(text("SELECT pg_sleep(600) /* admission-test */"))
            else:
                await asyncio.Event().wait()

    app.add_middleware(AdmissionControl, admission=admission)
    app.add_middleware(BodySizeLimit, max_bytes=1024)
    return app


@contextlib.asynccontextmanager
async def serve(
    database_url: str, max_in_flight: int, queue_timeout_seconds: float, pool_size: int
) -> AsyncIterator[Served]:
    engine = create_engine(
        database_url, pool_size=pool_size, max_overflow=0, pool_timeout_seconds=POOL_TIMEOUT_SECONDS
    )
    admission = Admission(max_in_flight, queue_timeout_seconds)
    app = build_app(engine, admission)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await wait_until(lambda: server.started or task.done(), "uvicorn to start")
    try:
        yield Served(f"http://127.0.0.1:{port}", port, app, engine, admission)
    finally:
        server.should_exit = True
        server.force_exit = True  # a /forever request left behind must not hold the shutdown
        await task
        sock.close()
        await engine.dispose()


async def test_overload_gets_only_503s_with_retry_after(database_url: str) -> None:
    async with (
        serve(database_url, max_in_flight=4, queue_timeout_seconds=0.05, pool_size=2) as served,
        httpx.AsyncClient(
            base_url=served.url,
            timeout=30,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
        ) as client,
    ):
        requests = [
            client.get("/slow") if n % 4 else client.post("/slow", content=b"x" * 100) for n in range(60)
        ]
        responses = await asyncio.gather(*requests)

    statuses = sorted({response.status_code for response in responses})
    assert set(statuses) <= {200, 503}, statuses
    refusals = [response for response in responses if response.status_code == 503]
    for response in refusals:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        body = response.json()
        assert (body["status"], body["code"]) == (503, "overloaded")
        assert body["detail"].startswith(("Le service reçoit", "Aucune connexion"))  # French, for people
    stats = served.admission.stats
    # Every 503 came from one of the two bounded waits, and both were met: four turns, two connections.
    assert len(refusals) == stats.refused + stats.pool_timeouts
    assert stats.refused > 0 and stats.pool_timeouts > 0
    assert any(response.status_code == 200 for response in responses)
    assert served.admission.in_flight == 0
    assert served.engine.pool.checkedout() == 0


async def test_health_routes_bypass_admission(database_url: str) -> None:
    async with (
        serve(database_url, max_in_flight=1, queue_timeout_seconds=0, pool_size=2) as served,
        httpx.AsyncClient(base_url=served.url, timeout=30) as client,
    ):
        holder = await _open_request(served.port, "/forever")
        try:
            await wait_until(lambda: served.admission.in_flight == 1, "the only turn to be taken")
            refused = await client.get("/slow")
            assert (refused.status_code, refused.json()["code"]) == (503, "overloaded")
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
        finally:
            holder.close()


async def _open_request(port: int, path: str) -> asyncio.StreamWriter:
    """A request sent on a raw connection whose answer is never read: closing it is the client leaving."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    await writer.drain()
    return writer


async def _sleeping_queries(served: Served) -> int:
    async with served.engine.connect() as connection:
        return int(
            (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600) /* admission-test */%' "
                        "AND datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()"
                    )
                )
            ).scalar_one()
        )


async def test_a_client_that_leaves_gives_its_connection_back(database_url: str) -> None:
    async with serve(database_url, max_in_flight=4, queue_timeout_seconds=0, pool_size=2) as served:
        request = await _open_request(served.port, "/forever")
        await wait_until(lambda: served.engine.pool.checkedout() == 1, "the request to hold a connection")
        if served.is_postgresql:
            await wait_until(lambda: _sleeping_queries(served), "its query to run on the server")
        request.close()
        await wait_until(
            lambda: served.engine.pool.checkedout() == 0, "the connection to come back to the pool"
        )
        assert served.admission.stats.abandoned == 1
        assert served.admission.in_flight == 0
        if served.is_postgresql:  # and the server stopped working for nobody
            await wait_until(lambda: _is_zero(_sleeping_queries(served)), "the query to be cancelled")
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            assert (await client.get("/slow")).status_code == 200


async def _is_zero(count: Awaitable[int]) -> bool:
    return await count == 0


async def test_a_client_that_leaves_the_queue_costs_nothing_when_its_turn_comes(database_url: str) -> None:
    async with serve(database_url, max_in_flight=1, queue_timeout_seconds=60, pool_size=2) as served:
        holder = await _open_request(served.port, "/forever")
        await wait_until(lambda: served.admission.in_flight == 1, "the only turn to be taken")
        waiting = await _open_request(served.port, "/slow")
        await wait_until(lambda: served.admission.waiting == 1, "the second request to queue")
        waiting.close()
        holder.close()
        # The turn passes to the request that left, which is dropped at once instead of running for nobody.
        await wait_until(lambda: served.admission.stats.abandoned == 2, "both requests to be dropped")
        await wait_until(lambda: served.admission.in_flight == 0, "the turn to be free")
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            assert (await client.get("/slow")).status_code == 200
        assert served.engine.pool.checkedout() == 0


@pytest.mark.parametrize("bound", [0, -1])
def test_a_bound_below_one_is_refused(bound: int) -> None:
    with pytest.raises(ValueError):
        Admission(bound, 0.1)
