"""Fixtures of the reporting tests: fresh reporting databases (SQLite files, or PostgreSQL databases beside the
run's commitments one), the two streams of each test, the commitments service served over HTTP for key checks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from services.reporting.config import ReportingSettings
from services.reporting.migrate import upgrade_database
from shared.bus import StreamSpec
from tests.conftest import PG_ADMIN_URL, _pg_admin
from tests.services.notifications.served_commitments import Commitments, serve_commitments


@pytest.fixture
async def new_reporting_database(
    database_url: str, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Makes fresh reporting databases on the run's engine (migrated unless told not to); dropped after."""
    made: list[str] = []
    parsed = make_url(database_url)

    async def make(migrated: bool = True) -> str:
        if parsed.get_backend_name() == "sqlite":
            url = f"sqlite:///{tmp_path / f'reporting-{uuid.uuid4().hex[:8]}.db'}"
        else:
            name = f"{parsed.database}_r{uuid.uuid4().hex[:8]}"
            await _pg_admin(PG_ADMIN_URL, f'CREATE DATABASE "{name}"')
            url = parsed.set(database=name).render_as_string(hide_password=False)
            made.append(name)
        if migrated:
            upgrade_database(url)
        return url

    yield make
    for name in made:
        await _pg_admin(PG_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def streams(stream_names: tuple[str, str]) -> tuple[StreamSpec, StreamSpec]:
    """This test's commitments and notifications streams (named after the run's: its cleanup removes them)."""
    suffix = uuid.uuid4().hex[:8]
    return (
        StreamSpec(f"{stream_names[0]}_RC{suffix}", f"{stream_names[1]}_rc{suffix}"),
        StreamSpec(f"{stream_names[0]}_RN{suffix}", f"t{suffix}.notifications"),
    )


def reporting_settings(
    database: str,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
    commitments_url: str = "http://127.0.0.1:9",
    **overrides: object,
) -> ReportingSettings:
    commitments, notifications = streams
    values: dict[str, object] = dict(
        reporting_database_url=database,
        nats_url=nats_url,
        events_stream=commitments.name,
        events_subject_prefix=commitments.subject_prefix,
        notifications_events_stream=notifications.name,
        notifications_events_subject_prefix=notifications.subject_prefix,
        commitments_url=commitments_url,
        projector_durable=f"reporting_{uuid.uuid4().hex[:8]}",
        projector_batch_size=50,
        log_json=False,
    )
    return ReportingSettings(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.fixture
async def commitments(
    database_url: str, nats_url: str, streams: tuple[StreamSpec, StreamSpec], tmp_path: Path
) -> AsyncIterator[Commitments]:
    """The commitments service over HTTP, publishing to this test's commitments stream (key checks)."""
    async with serve_commitments(database_url, nats_url, streams[0], tmp_path) as served:
        yield served
