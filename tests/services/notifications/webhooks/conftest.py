"""Fixtures for the webhook tests: a real HTTP receiver, the commitments service (served by uvicorn, for key
verification) and the notifications app; the notifications database is the one of ../conftest.py."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.notifications.config import NotificationsSettings
from services.notifications.outbox.models import OutboxMessage
from services.notifications.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from shared.clock import FixedClock
from shared.db import create_engine, create_sessionmaker
from tests.ports import free_port


@contextlib.asynccontextmanager
async def serve(app: Any, port: int) -> AsyncIterator[None]:
    """Serve an ASGI app with uvicorn on 127.0.0.1:port in this event loop."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what prevented the start
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def sessionmaker(notifications_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the notifications database; the webhook tables are emptied after each test."""
    engine = create_engine(notifications_database_url)
    yield create_sessionmaker(engine)
    async with engine.begin() as connection:
        for model in (WebhookAttempt, WebhookDelivery, WebhookSubscription, OutboxMessage):
            await connection.execute(delete(model))
    await engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    # Real time, moved by hand: receivers check webhook-timestamp against their own clock (5 minutes' tolerance).
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An intranet endpoint: records every request and answers the queued statuses (204 when none)."""

    port: int
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *statuses: int) -> None:
        self.statuses.extend(statuses)

    async def _endpoint(self, request: Request) -> Response:
        self.requests.append(Received(request.url.path, dict(request.headers), await request.body()))
        status = self.statuses.pop(0) if self.statuses else 204
        headers = {"Location": self.url("/elsewhere")} if 300 <= status < 400 else None
        return Response(status_code=status, headers=headers)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._endpoint, methods=["POST", "GET"])])


@pytest.fixture(scope="module")
async def _receiver_server() -> AsyncIterator[Receiver]:
    receiver = Receiver(port=free_port())
    async with serve(receiver.app(), receiver.port):
        yield receiver


@pytest.fixture
def receiver(_receiver_server: Receiver) -> Receiver:
    _receiver_server.requests.clear()
    _receiver_server.statuses.clear()
    return _receiver_server


def settings_for(
    notifications_database_url: str, nats_url: str, stream_names: tuple[str, str], **overrides: Any
) -> NotificationsSettings:
    """Test settings: the run's stream, plain http and fast retries; private targets stay refused unless a
    test allows them (its receiver listens on 127.0.0.1)."""
    values: dict[str, Any] = {
        "notifications_database_url": notifications_database_url,
        "nats_url": nats_url,
        "events_stream": stream_names[0],
        "events_subject_prefix": stream_names[1],
        "log_json": False,
        "notifications_events_stream": f"{stream_names[0]}_EV",
        "notifications_events_subject_prefix": f"{stream_names[1]}ev",
        "webhook_allow_http": True,
        "webhook_retry_initial_seconds": 1.0,
        "webhook_retry_multiplier": 2.0,
        "webhook_retry_max_interval_seconds": 8.0,
        "webhook_timeout_seconds": 5.0,
        "webhook_consumer_durable": f"webhooks_{uuid.uuid4().hex[:8]}",
        "action_link_secret": "test-action-link-secret",
        **overrides,
    }
    return NotificationsSettings(**values)


@dataclass
class Keys:
    admin: str
    city: str
    reader: str
    partner: str


@pytest.fixture(scope="module")
async def commitments_service(
    database_url: str, nats_url: str, stream_names: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, Keys]]:
    """The commitments service served by uvicorn (the notifications service verifies keys through it), with a
    key per role; its tables are emptied at the end of the module."""
    from services.commitments.app import create_app
    from services.commitments.auth.service import create_key
    from services.commitments.config import CommitmentsSettings
    from services.commitments.models import Base
    from services.commitments.partners.schemas import PartnerCreate, PartnerKind
    from services.commitments.partners.service import create_partner
    from shared.auth import SYSTEM, Role

    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    settings = CommitmentsSettings(
        database_url=database_url,
        nats_url=nats_url,
        events_stream=stream_names[0],
        events_subject_prefix=stream_names[1],
        relay_in_process=False,
        data_dir=tmp_path_factory.mktemp("commitments"),
        log_json=False,
    )
    app = create_app(settings, clock)
    port = free_port()
    async with serve(app, port):
        async with app.state.sessionmaker() as session, session.begin():
            partner = await create_partner(
                session,
                SYSTEM,
                clock,
                PartnerCreate(name="Hauts-de-Seine Habitat", kind=PartnerKind.BAILLEUR_SOCIAL),
            )
            secrets = {}
            for role in (Role.ADMIN, Role.CITY, Role.READER, Role.PARTNER):
                _, secrets[role.value] = await create_key(
                    session,
                    SYSTEM,
                    clock,
                    name=f"webhooks {role}",
                    role=role,
                    partner_id=partner.id if role is Role.PARTNER else None,
                )
        yield f"http://127.0.0.1:{port}", Keys(**secrets)
        engine = app.state.engine
        async with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(delete(table))


@pytest.fixture
async def notifications_app(
    commitments_service: tuple[str, Keys],
    notifications_database_url: str,
    nats_url: str,
    stream_names: tuple[str, str],
    clock: FixedClock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[FastAPI]:
    from services.notifications.app import create_app

    settings = settings_for(
        notifications_database_url, nats_url, stream_names, commitments_url=commitments_service[0]
    )
    app = create_app(settings, clock)
    async with LifespanManager(app):
        yield app


@pytest.fixture
def keys(commitments_service: tuple[str, Keys]) -> Keys:
    return commitments_service[1]


@pytest.fixture
async def client_as(notifications_app: FastAPI) -> AsyncIterator[Any]:
    """`client_as(secret)`: an HTTP client of the notifications API presenting that key."""
    clients: list[httpx.AsyncClient] = []

    def make(secret: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=notifications_app),
            base_url="http://test",
            headers={"Authorization": f"Bearer {secret}"},
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
