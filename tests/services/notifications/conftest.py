"""Fixtures of the notifications tests: the service's own database (SQLite file or PostgreSQL database, beside
the commitments one), a stream per test, the commitments service served over HTTP, a real SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from services.notifications.config import NotificationsSettings
from services.notifications.migrate import upgrade_database
from services.notifications.models import Base as NotificationsBase
from shared.bus import StreamSpec
from shared.db import create_engine
from tests.conftest import PG_ADMIN_URL, _pg_admin
from tests.services.notifications.served_commitments import Commitments, serve_commitments
from tests.services.notifications.world import World, seed_world, send_items
from tests.smtp_sink import SinkHandler, smtp_sink


@pytest.fixture(scope="session")
def notifications_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The notifications service's own database, on the same engine as the run's commitments database."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('ndb') / 'notifications.db'}"
        upgrade_database(url)
        yield url
        return
    # Unique per fixture instance: tests/e2e reuses this fixture through its own conftest, and both instances
    # live for the whole session.
    name = f"{parsed.database}_n{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_admin(PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    url = parsed.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        asyncio.run(_pg_admin(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def stream(stream_names: tuple[str, str]) -> StreamSpec:
    """A stream and subject prefix of this test alone (named after the run's, so the run's cleanup removes it)."""
    suffix = uuid.uuid4().hex[:8]
    return StreamSpec(f"{stream_names[0]}_N{suffix}", f"{stream_names[1]}_n{suffix}")


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url, connect_timeout=2)
    yield client
    with contextlib.suppress(Exception):
        await client.drain()


@pytest.fixture
async def commitments(
    database_url: str, nats_url: str, stream: StreamSpec, tmp_path: Path
) -> AsyncIterator[Commitments]:
    async with serve_commitments(database_url, nats_url, stream, tmp_path) as served:
        yield served


@pytest.fixture
async def world(commitments: Commitments) -> World:
    """The seeded world with its requests sent (reminders about a draft are cancelled before sending)."""
    world = await seed_world(commitments)
    await send_items(commitments, world)
    return world


@pytest.fixture
def sink() -> Iterator[tuple[Any, SinkHandler]]:
    with smtp_sink() as (controller, handler):
        yield controller, handler


@pytest.fixture
async def notifications_settings(
    notifications_database_url: str,
    nats_url: str,
    stream: StreamSpec,
    commitments: Commitments,
    sink: tuple[Any, SinkHandler],
    tmp_path: Path,
) -> AsyncIterator[NotificationsSettings]:
    """Settings pointing at this test's stream, commitments service and SMTP server; the notifications tables
    are emptied after the test."""
    controller, _ = sink
    yield NotificationsSettings(
        notifications_database_url=notifications_database_url,
        nats_url=nats_url,
        events_stream=stream.name,
        events_subject_prefix=stream.subject_prefix,
        data_dir=tmp_path,
        # The service's own events: a stream of this test too (the run's cleanup removes it by its name).
        notifications_events_stream=f"{stream.name}_EV",
        notifications_events_subject_prefix=f"{stream.subject_prefix}ev",
        commitments_url=commitments.url,
        commitments_api_key=commitments.service_secret,
        smtp_host=controller.hostname,
        smtp_port=controller.port,
        consumer_durable=f"notifications_{uuid.uuid4().hex[:8]}",
        sender_poll_seconds=0.1,
        retry_initial_seconds=0.05,
        retry_multiplier=2.0,
        retry_max_interval_seconds=0.2,
        mail_sender="Ville de Sceaux <engagements@sceaux.example>",
        action_link_secret="test-action-link-secret",
        public_base_url="http://notifications.test",
        log_json=False,
    )
    engine = create_engine(notifications_database_url)
    async with engine.begin() as connection:
        for table in reversed(NotificationsBase.metadata.sorted_tables):
            await connection.execute(delete(table))
    await engine.dispose()
