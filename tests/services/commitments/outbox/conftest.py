"""Fixtures for the outbox relay tests: a stream of its own for each test, a NATS client, relay processes, and
partners created through the API (one outbox row each)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from services.commitments.config import CommitmentsSettings
from shared.bus import StreamSpec
from tests.services.commitments.outbox.relay_process import RelayProcess, relay_environment


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings a test changes: parametrize this name (e.g. to run the relay in the app's process)."""
    return {}


@pytest.fixture
def settings(
    settings: CommitmentsSettings, stream_names: tuple[str, str], settings_overrides: dict[str, Any]
) -> CommitmentsSettings:
    """The service's test settings with a stream and subject prefix no other test uses: each test counts
    exactly the messages it caused. The name keeps the run's prefix, so the run's cleanup removes it if a test
    cannot."""
    suffix = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "events_stream": f"{stream_names[0]}_{suffix}",
            "events_subject_prefix": f"{stream_names[1]}_{suffix}",
            **settings_overrides,
        }
    )


@pytest.fixture
def stream(settings: CommitmentsSettings) -> StreamSpec:
    return StreamSpec(
        settings.events_stream, settings.events_subject_prefix, settings.events_duplicate_window_seconds
    )


@pytest.fixture
async def nats_client(nats_url: str, stream: StreamSpec) -> AsyncIterator[NatsClient]:
    """The test's own connection, to read the stream; deletes the test's stream at the end."""
    client = await nats.connect(nats_url, connect_timeout=2, name="outbox-tests")
    try:
        yield client
    finally:
        with contextlib.suppress(NotFoundError):
            await client.jetstream().delete_stream(stream.name)
        await client.close()


@pytest.fixture
async def start_relay(
    settings: CommitmentsSettings, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[RelayProcess]]]:
    """Start `python -m services.commitments relay` (paused before marking what it published, with
    `pause_before_mark_seconds`, or before publishing what it read, with `pause_before_publish_seconds`:
    RelayProcess) against the test's database and stream; every process started is
    killed at the end, whatever happened."""
    started: list[RelayProcess] = []

    async def start(
        pause_before_mark_seconds: float = 0.0,
        poll_seconds: float = 0.5,
        extra_env: dict[str, str] | None = None,
        pause_before_publish_seconds: float = 0.0,
    ) -> RelayProcess:
        env = {**relay_environment(settings, poll_seconds), **(extra_env or {})}
        relay = RelayProcess(
            env,
            tmp_path / f"relay-{len(started) + 1}.log",
            pause_before_mark_seconds,
            pause_before_publish_seconds,
        )
        started.append(relay)
        return await relay.start()

    try:
        yield start
    finally:
        for relay in started:
            await relay.kill()


@pytest.fixture
def create_partners(admin: httpx.AsyncClient) -> Callable[[int], Awaitable[None]]:
    """`count` partners through the API: each writes one outbox row."""

    async def create(count: int) -> None:
        tag = uuid.uuid4().hex[:8]
        for n in range(count):
            response = await admin.post(
                "/v1/partners", json={"name": f"Bailleur {tag} {n}", "kind": "bailleur_social"}
            )
            assert response.status_code == 201, response.text

    return create
