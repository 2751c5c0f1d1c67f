"""The commitments API under overload, served by uvicorn on SQLite and PostgreSQL: its real routes answer 2xx or
503 overloaded with Retry-After, never another 5xx; a pool timeout anywhere (the key check, the idempotency
record, a route) is the same 503; /readyz stays 200 while NATS is away and reports the outbox's lag."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import delete

from services.commitments.app import create_app
from services.commitments.auth.service import create_key
from services.commitments.config import CommitmentsSettings
from services.commitments.models import Base
from shared.auth import SYSTEM, Role
from shared.clock import FixedClock
from tests.services.commitments.factories import create_plan_axis_objective
from tests.waiting import wait_until

CLOSED_PORT_NATS = "nats://127.0.0.1:1"  # nothing listens there: NATS is away


@dataclass
class Served:
    app: FastAPI
    url: str
    admin: str  # an admin key's secret
    objective_id: uuid.UUID

    def client(self, **options: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.admin}"},
            timeout=30,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
            **options,
        )  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serve(settings: CommitmentsSettings) -> AsyncIterator[Served]:
    """The app under uvicorn on a free port, as deployed; every table is emptied when it stops."""
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    app = create_app(settings, clock)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await wait_until(lambda: server.started or task.done(), "uvicorn to start", timeout=30)
    try:
        async with app.state.sessionmaker() as session, session.begin():
            _, admin = await create_key(
                session, SYSTEM, clock, name="admin", role=Role.ADMIN, partner_id=None
            )
            _, _, objective = await create_plan_axis_objective(session, clock)
        yield Served(app, f"http://127.0.0.1:{sock.getsockname()[1]}", admin, objective.id)
    finally:
        async with app.state.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(delete(table))
        server.should_exit = True
        await task
        sock.close()


def overloaded(response: httpx.Response) -> bool:
    return (
        response.status_code == 503
        and response.headers.get("retry-after") == "1"
        and response.headers["content-type"] == "application/problem+json"
        and response.json()["code"] == "overloaded"
    )


async def test_real_routes_under_overload_answer_2xx_or_503(settings: CommitmentsSettings) -> None:
    settings = settings.model_copy(
        update={"max_in_flight_requests": 2, "request_queue_timeout_seconds": 0.01}
    )
    async with serve(settings) as served, served.client() as client:
        item = await client.post(
            "/v1/items",
            json={
                "objective_id": str(served.objective_id),
                "kind": "commitment",
                "title": "Agence postale communale",
                "plan_text": "La Ville ouvrira une agence postale communale.",
            },
        )
        assert item.status_code == 201, item.text
        item_id = item.json()["id"]

        def request(n: int) -> asyncio.Future[httpx.Response]:
            if n % 10 == 0:  # a few writes among the reads
                return asyncio.ensure_future(
                    client.post(
                        f"/v1/items/{item_id}/journal", json={"kind": "note", "text": f"Point d'étape {n}."}
                    )
                )
            path = "/v1/items" if n % 2 else f"/v1/items/{item_id}"
            return asyncio.ensure_future(client.get(path))

        responses = await asyncio.gather(*(request(n) for n in range(150)))

    refused = [response for response in responses if response.status_code >= 500]
    assert all(overloaded(response) for response in refused), {r.status_code: r.text for r in refused}
    assert all(response.status_code in (200, 201) for response in responses if response.status_code < 500)
    stats = served.app.state.admission.stats
    assert len(refused) == stats.refused + stats.pool_timeouts and stats.refused > 0
    assert any(response.status_code == 201 for response in responses)  # writes went through too


async def test_a_pool_timeout_anywhere_is_a_503(settings: CommitmentsSettings) -> None:
    settings = settings.model_copy(update={"database_pool_size": 1, "database_pool_timeout_seconds": 0.1})
    async with serve(settings) as served, served.client() as client:
        engine = served.app.state.engine
        assert (await client.get("/v1/items")).status_code == 200  # the key is now in the cache
        served.app.state.principal_cache.clear()
        held = [await engine.connect() for _ in range(2)]  # pool_size 1 + overflow 1: nothing left
        try:
            # The key check (a session of the route's), a route, and the idempotency record (the middleware's
            # own session, outside FastAPI's error handlers): each waits out the pool timeout, then 503.
            answers = [
                await client.get("/v1/items"),
                await client.post(
                    "/v1/items",
                    headers={"Idempotency-Key": "k1"},
                    json={
                        "objective_id": str(served.objective_id),
                        "kind": "commitment",
                        "title": "Médiateurs",
                        "plan_text": "La Ville mettra en place des médiateurs.",
                    },
                ),
            ]
        finally:
            for connection in held:
                await connection.close()
        assert all(overloaded(answer) for answer in answers), [answer.text for answer in answers]
        assert served.app.state.admission.stats.pool_timeouts == 2
        assert (await client.get("/v1/items")).status_code == 200  # and all is well once connections free up


async def test_ready_without_nats_reporting_the_outbox_lag(settings: CommitmentsSettings) -> None:
    settings = settings.model_copy(update={"nats_url": CLOSED_PORT_NATS, "relay_in_process": True})
    async with serve(settings) as served, served.client() as client:
        created = await client.post(
            "/v1/items",
            json={
                "objective_id": str(served.objective_id),
                "kind": "commitment",
                "title": "Maison France services",
                "plan_text": "La Ville ouvrira une maison France services.",
            },
        )
        assert created.status_code == 201, created.text  # writes go on: the outbox keeps the event
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["status"] == "ready" and body["checks"] == {"database": "ok"}
        assert body["info"]["nats"] == "unreachable"
        assert body["info"]["outbox"]["unpublished"] >= 1  # item.created and its like, waiting for NATS
        assert body["info"]["admission"]["max_in_flight"] == settings.in_flight_limit


async def test_ready_with_nats_the_relay_empties_the_outbox(
    settings: CommitmentsSettings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"relay_in_process": True, "relay_poll_seconds": 0.2})
    async with serve(settings) as served, served.client() as client:
        await wait_until(lambda: served.app.state.bus.connected, "NATS to be connected")
        created = await client.post(
            "/v1/items",
            json={
                "objective_id": str(served.objective_id),
                "kind": "commitment",
                "title": "Jardins partagés",
                "plan_text": "La Ville organisera des jardins partagés.",
            },
        )
        assert created.status_code == 201

        async def published() -> bool:
            info = (await client.get("/readyz")).json()["info"]
            return info["nats"] == "connected" and info["outbox"] == {
                "unpublished": 0,
                "oldest_unpublished_seconds": 0.0,
            }

        await wait_until(published, "the relay to publish the outbox")
