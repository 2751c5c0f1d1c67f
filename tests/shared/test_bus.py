"""`ensure_stream` against a real nats-server: it creates the stream, and on an existing one changes only what
the service owns (subjects, dedup window), never what operations chose (replicas, storage, limits)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shared.bus import StreamSpec, ensure_stream


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url, connect_timeout=2, name="bus-tests")
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def spec(nats_client: NatsClient, stream_names: tuple[str, str]) -> AsyncIterator[StreamSpec]:
    """A stream and prefix of the test's own, under the run's prefix (the run's cleanup gets leftovers)."""
    suffix = uuid.uuid4().hex[:8]
    spec = StreamSpec(f"{stream_names[0]}_BUS_{suffix}", f"{stream_names[1]}_bus_{suffix}", 600.0)
    yield spec
    with contextlib.suppress(NotFoundError):
        await nats_client.jetstream().delete_stream(spec.name)


async def test_creates_the_stream_with_its_subjects_and_dedup_window(
    nats_client: NatsClient, spec: StreamSpec
) -> None:
    await ensure_stream(nats_client.jetstream(), spec)
    config = (await nats_client.jetstream().stream_info(spec.name)).config
    assert config.subjects == [f"{spec.subject_prefix}.>"] and config.duplicate_window == 600.0
    await ensure_stream(nats_client.jetstream(), spec)  # again: nothing to do, no error


@pytest.mark.parametrize("storage", [StorageType.FILE, StorageType.MEMORY])
async def test_existing_stream_keeps_what_operations_configured(
    nats_client: NatsClient, spec: StreamSpec, storage: StorageType
) -> None:
    js = nats_client.jetstream()
    await js.add_stream(
        StreamConfig(
            name=spec.name,
            subjects=[f"{spec.subject_prefix}.old.>"],
            storage=storage,
            max_age=86400.0,
            max_msgs=1000,
            description="set by operations",
            duplicate_window=120.0,
        )
    )
    await ensure_stream(js, spec)
    config = (await js.stream_info(spec.name)).config
    assert config.subjects == [f"{spec.subject_prefix}.>"] and config.duplicate_window == 600.0
    assert (config.storage, config.max_age, config.max_msgs, config.description) == (
        storage,
        86400.0,
        1000,
        "set by operations",
    )


async def test_connects_to_the_first_server_of_a_list_that_answers(nats_url: str) -> None:
    """NATS_URL may list a cluster's servers separated by commas: a dead first one is passed over."""
    from shared.bus import connect
    from tests.ports import free_port

    client = await connect(f"nats://127.0.0.1:{free_port()}, {nats_url}", name="bus-tests")
    try:
        assert client.is_connected and client.connected_url is not None
        assert client.connected_url.port == int(nats_url.rsplit(":", 1)[1])
    finally:
        await client.close()
