"""A key left « in progress » by a replica killed while handling its request: retries get 409 with Retry-After
until the lease ends; after it, one retry takes the key over and the request is done once; the dead replica's
answer, should it ever come, is not kept. On SQLite and PostgreSQL, with the fake clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from services.commitments.idempotency import repository
from services.commitments.idempotency.middleware import IdempotencyMiddleware
from services.commitments.idempotency.models import IdempotencyRecord
from services.commitments.items.models import Item
from shared.clock import FixedClock

IN_PROGRESS_DETAIL = (
    "Une requête avec cette Idempotency-Key est en cours de traitement. Réessayez plus tard avec la même clé "
    "(en-tête Retry-After) : vous obtiendrez sa réponse, ou, si elle n'a pas abouti, la requête sera traitée "
    "à nouveau."
)


@dataclass
class StuckReplica:
    """Another replica of the API on the same database: it records the key, then does not answer (killed, or
    stuck, while handling the request) until `come_back` lets its application answer `status` after all."""

    name: str
    status: int = 201
    started: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    request: asyncio.Task[httpx.Response] | None = None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.started.set()
        await self.released.wait()
        await JSONResponse({"from": self.name}, status_code=self.status)(scope, receive, send)

    async def come_back(self) -> httpx.Response:
        assert self.request is not None
        self.released.set()
        return await self.request


@pytest.fixture
async def replicas(app: FastAPI, clock: FixedClock) -> AsyncIterator[Callable[[str], StuckReplica]]:
    made: list[StuckReplica] = []

    def make(name: str) -> StuckReplica:
        made.append(StuckReplica(name))
        return made[-1]

    yield make
    for replica in made:
        if replica.request is not None and not replica.request.done():
            await replica.come_back()


@pytest.fixture
async def dead_replica(replicas: Callable[[str], StuckReplica]) -> StuckReplica:
    return replicas("dead")


@pytest.fixture
def lease(app: FastAPI) -> timedelta:
    return timedelta(seconds=app.state.settings.idempotency_lease_seconds)


async def _left_in_progress(
    app: FastAPI,
    clock: FixedClock,
    replica: StuckReplica,
    admin: httpx.AsyncClient,
    body: dict[str, Any],
    key: dict[str, str] | None = None,
) -> dict[str, str]:
    """Send `body` under `key` (by default a new one) to the replica, as `admin`; return the key once the
    replica's application has the request (the key then « in progress »)."""
    middleware = IdempotencyMiddleware(
        replica.app,
        sessionmaker=app.state.sessionmaker,
        clock=clock,
        lease=timedelta(seconds=app.state.settings.idempotency_lease_seconds),
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=middleware),
        base_url="http://test",
        headers={"Authorization": admin.headers["authorization"]},
    )
    key = key or {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    replica.request = asyncio.create_task(client.post("/v1/items", json=body, headers=key))
    started = asyncio.create_task(replica.started.wait())
    await asyncio.wait([started, replica.request], return_when=asyncio.FIRST_COMPLETED)
    if not started.done():  # answered without reaching the application: the key was not given to it
        started.cancel()
        answer = await replica.request
        raise AssertionError(f"{replica.name} did not get the key: {answer.status_code} {answer.text}")
    return key


async def _count(app: FastAPI, model: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _record(app: FastAPI) -> IdempotencyRecord:
    async with app.state.sessionmaker() as session:
        return (await session.scalars(select(IdempotencyRecord))).one()


@pytest.fixture
async def body(make_objective: Any, make_partner: Any) -> dict[str, Any]:
    return {
        "objective_id": str(await make_objective()),
        "kind": "request",
        "title": "Réseau de bus",
        "plan_text": "La Ville demande la réorganisation du réseau de bus.",
        "lead_partner_id": str(await make_partner("VSGP")),
    }


def assert_in_progress(response: httpx.Response, retry_after: int) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency-key-in-progress"
    assert response.json()["detail"] == IN_PROGRESS_DETAIL
    assert response.headers["retry-after"] == str(retry_after)


async def test_before_the_lease_ends_a_retry_is_409_with_retry_after(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    dead_replica: StuckReplica,
    body: Any,
    lease: Any,
) -> None:
    key = await _left_in_progress(app, clock, dead_replica, admin, body)
    assert_in_progress(await admin.post("/v1/items", json=body, headers=key), int(lease.total_seconds()))
    clock.advance(lease - timedelta(seconds=10, milliseconds=500))
    assert_in_progress(await admin.post("/v1/items", json=body, headers=key), 11)  # rounded up
    clock.advance(timedelta(seconds=10, milliseconds=500))
    assert_in_progress(await admin.post("/v1/items", json=body, headers=key), 1)  # the lease's very end
    assert await _count(app, Item) == 0
    assert (await _record(app)).attempt == 1


async def test_after_the_lease_a_retry_takes_the_key_over_and_the_request_is_done_once(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    dead_replica: StuckReplica,
    body: Any,
    lease: Any,
) -> None:
    key = await _left_in_progress(app, clock, dead_replica, admin, body)
    clock.advance(lease + timedelta(milliseconds=1))
    taken = await admin.post("/v1/items", json=body, headers=key)
    assert taken.status_code == 201 and "idempotent-replayed" not in taken.headers, taken.text
    for _ in range(2):
        again = await admin.post("/v1/items", json=body, headers=key)
        assert (again.status_code, again.json(), again.headers["idempotent-replayed"]) == (
            201,
            taken.json(),
            "true",
        )
    assert await _count(app, Item) == 1
    record = await _record(app)
    assert (record.attempt, record.status_code, record.locked_until) == (2, 201, None)


@pytest.mark.parametrize("late_answer", [201, 500], ids=["late-201", "late-500"])
async def test_an_attempt_past_its_lease_does_not_touch_the_key_taken_over(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    replicas: Callable[[str], StuckReplica],
    body: Any,
    lease: Any,
    late_answer: int,
) -> None:
    """A replica slower than its lease (not dead after all) answers while the attempt that took its key over
    still runs: its client hears its answer, but the key stays with the new attempt, whose answer is kept (a
    late 500 does not make the key forgotten either)."""
    late, taker = replicas("late"), replicas("taker")
    late.status = late_answer
    key = await _left_in_progress(app, clock, late, admin, body)
    clock.advance(lease + timedelta(seconds=1))
    await _left_in_progress(app, clock, taker, admin, body, key)
    assert (await late.come_back()).json() == {"from": "late"}
    record = await _record(app)
    assert (record.attempt, record.status_code) == (2, None)
    assert_in_progress(await admin.post("/v1/items", json=body, headers=key), int(lease.total_seconds()))
    assert (await taker.come_back()).json() == {"from": "taker"}
    replay = await admin.post("/v1/items", json=body, headers=key)
    assert (replay.status_code, replay.json(), replay.headers["idempotent-replayed"]) == (
        201,
        {"from": "taker"},
        "true",
    )


async def test_retries_at_once_after_the_lease_take_the_key_over_once(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    dead_replica: StuckReplica,
    body: Any,
    lease: Any,
) -> None:
    key = await _left_in_progress(app, clock, dead_replica, admin, body)
    clock.advance(lease + timedelta(seconds=1))
    responses = await asyncio.gather(*(admin.post("/v1/items", json=body, headers=key) for _ in range(8)))
    done = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    replayed = [r for r in responses if r.status_code == 201 and "idempotent-replayed" in r.headers]
    waiting = [r for r in responses if r.status_code == 409]
    assert len(done) == 1 and len(done) + len(replayed) + len(waiting) == 8, [r.text for r in responses]
    assert {r.json()["id"] for r in replayed} <= {done[0].json()["id"]}
    for response in waiting:
        assert response.json()["code"] == "idempotency-key-in-progress" and "retry-after" in response.headers
    assert await _count(app, Item) == 1
    assert (await _record(app)).attempt == 2


async def test_of_two_takeovers_the_update_lets_one_through(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    dead_replica: StuckReplica,
    body: Any,
    lease: Any,
) -> None:
    """The second retry read the record while it was still free (PostgreSQL; SQLite lets one writer in at a
    time), yet the UPDATE, which looks again, refuses it."""
    await _left_in_progress(app, clock, dead_replica, admin, body)
    record = await _record(app)
    clock.advance(lease + timedelta(seconds=1))
    now, read, seen_free = clock.now(), asyncio.Event(), []
    postgresql = app.state.engine.dialect.name == "postgresql"

    async def second() -> int | None:
        async with app.state.sessionmaker() as session, session.begin():
            try:
                seen = await repository.get(session, record.caller_hash, record.key)
                seen_free.append(
                    seen is not None and seen.locked_until is not None and seen.locked_until < now
                )
            finally:
                read.set()
            return await repository.take_over(
                session, record.caller_hash, record.key, record.request_hash, now, lease
            )

    async with app.state.sessionmaker() as session, session.begin():
        first = await repository.take_over(
            session, record.caller_hash, record.key, record.request_hash, now, lease
        )
        racing = asyncio.create_task(second())
        if postgresql:
            await read.wait()  # it has read the record as still free; its UPDATE waits for this transaction
    assert (first, await racing) == (2, None)
    assert seen_free == [postgresql]
    assert (await _record(app)).locked_until == now + lease


async def test_a_key_left_in_progress_before_leases_existed_is_freed_after_the_lease(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    dead_replica: StuckReplica,
    body: Any,
    lease: Any,
) -> None:
    """A record written before the migration has no `locked_until`: its lease ends `lease` after it was made."""
    key = await _left_in_progress(app, clock, dead_replica, admin, body)
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(update(IdempotencyRecord).values(locked_until=None))
    clock.advance(lease - timedelta(seconds=5))
    assert_in_progress(await admin.post("/v1/items", json=body, headers=key), 5)
    clock.advance(timedelta(seconds=6))
    assert (await admin.post("/v1/items", json=body, headers=key)).status_code == 201
    assert await _count(app, Item) == 1


async def test_a_retry_with_another_body_is_still_refused_after_the_lease(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    dead_replica: StuckReplica,
    body: Any,
    lease: Any,
) -> None:
    key = await _left_in_progress(app, clock, dead_replica, admin, body)
    clock.advance(lease + timedelta(seconds=1))
    other = await admin.post("/v1/items", json={**body, "title": "Autre"}, headers=key)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency-key-reused")
    assert await _count(app, Item) == 0
    assert (await _record(app)).attempt == 1
