"""NATS unreachable at publish time: the outbox rows stay unpublished, and go out once NATS is back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.errors import ConnectionClosedError
from nats.js.errors import NoStreamResponseError, NotFoundError

from services.commitments.outbox.relay import OutboxRelay
from shared.bus import StreamSpec, connect, ensure_stream
from shared.clock import FixedClock
from tests.jetstream import stream_exists, stream_messages
from tests.services.commitments.outbox.published import event_ids, message_ids, outbox_rows
from tests.waiting import wait_until

TIMEOUT = 10.0


@pytest.mark.parametrize("outage", ["no-stream-captures-the-subject", "connection-closed"])
async def test_rows_stay_unpublished_while_nats_is_unreachable_and_go_out_when_it_is_back(
    app: FastAPI,
    nats_client: NatsClient,
    stream: StreamSpec,
    clock: FixedClock,
    nats_url: str,
    outage: str,
    create_partners: Callable[[int], Awaitable[None]],
) -> None:
    js = nats_client.jetstream()
    await create_partners(2)
    relay_connection = await nats.connect(nats_url, connect_timeout=2)
    relay = OutboxRelay(app.state.sessionmaker, relay_connection, stream, clock)
    try:
        if outage == "connection-closed":
            await ensure_stream(js, stream)
            await relay.nats.close()
            expected_error: type[Exception] = ConnectionClosedError
        else:  # the stream is not declared: JetStream has no one to answer on the subject
            expected_error = NoStreamResponseError

        with pytest.raises(expected_error):
            await relay.publish_batch()
        rows = await outbox_rows(app.state.sessionmaker)
        assert len(rows) == 3 and all(row.published_at is None for row in rows)
        assert await stream_messages(js, stream.name) == []

        if outage == "connection-closed":
            relay.nats = await nats.connect(nats_url, connect_timeout=2)
        else:
            await ensure_stream(js, stream)
        assert await relay.drain() == 3
        assert relay.stats.duplicates == 0
        rows = await outbox_rows(app.state.sessionmaker)
        assert all(row.published_at is not None for row in rows)
        assert message_ids(await stream_messages(js, stream.name)) == event_ids(rows)
    finally:
        await relay.nats.close()


async def test_running_relay_keeps_failed_rows_and_retries_until_the_stream_is_back(
    app: FastAPI,
    nats_client: NatsClient,
    stream: StreamSpec,
    clock: FixedClock,
    nats_url: str,
    caplog: pytest.LogCaptureFixture,
    create_partners: Callable[[int], Awaitable[None]],
) -> None:
    """The relay's loop survives failed publishes: it keeps the rows, logs, and publishes them later."""
    js = nats_client.jetstream()
    relay_connection = await connect(nats_url, name="outbox-tests-relay")
    relay = OutboxRelay(app.state.sessionmaker, relay_connection, stream, clock, poll_seconds=0.2)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await wait_until(lambda: _published_count(app, 1), "the admin key's event to go out", TIMEOUT)
        await js.delete_stream(stream.name)  # from now on nothing can be stored

        caplog.set_level(logging.ERROR, logger="services.commitments.outbox.relay")
        await create_partners(2)
        relay.wake()
        await wait_until(lambda: _failure_logged(caplog), "a failed publish to be logged", TIMEOUT)
        rows = await outbox_rows(app.state.sessionmaker)
        assert [row.published_at is None for row in rows] == [False, True, True]
        assert not await stream_exists(js, stream.name)

        await ensure_stream(js, stream)
        await wait_until(lambda: _published_count(app, 3), "the relay to publish the kept rows", TIMEOUT)
        assert message_ids(await stream_messages(js, stream.name)) == event_ids(rows[1:])
        assert not running.done()
    finally:
        stop.set()
        await asyncio.wait_for(running, TIMEOUT)
        await relay_connection.close()


async def _published_count(app: FastAPI, expected: int) -> bool:
    rows = await outbox_rows(app.state.sessionmaker)
    return len(rows) == expected and all(row.published_at is not None for row in rows)


async def _failure_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return any("publish failed" in record.getMessage() for record in caplog.records)


async def test_relay_starting_while_its_stream_cannot_be_declared_retries_instead_of_dying(
    app: FastAPI,
    admin: httpx.AsyncClient,
    nats_client: NatsClient,
    stream: StreamSpec,
    clock: FixedClock,
    nats_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    js = nats_client.jetstream()
    # Another stream already captures the subjects: declaring the relay's stream fails until it is gone.
    blocker = StreamSpec(f"{stream.name}_BLOCKER", stream.subject_prefix)
    await ensure_stream(js, blocker)
    relay_connection = await connect(nats_url, name="outbox-tests-relay")
    relay = OutboxRelay(app.state.sessionmaker, relay_connection, stream, clock, poll_seconds=0.2)
    stop = asyncio.Event()
    caplog.set_level(logging.ERROR, logger="services.commitments.outbox.relay")
    running = asyncio.create_task(relay.run(stop))
    try:
        await wait_until(lambda: _failure_logged(caplog), "the relay to fail declaring its stream", TIMEOUT)
        assert not running.done()
        await js.delete_stream(blocker.name)
        # The one row is the `admin` fixture's key creation.
        await wait_until(lambda: _published_count(app, 1), "the relay to declare and publish", TIMEOUT)
        rows = await outbox_rows(app.state.sessionmaker)
        assert message_ids(await stream_messages(js, stream.name)) == event_ids(rows)
    finally:
        stop.set()
        await asyncio.wait_for(running, TIMEOUT)
        await relay_connection.close()
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(blocker.name)


async def test_api_writes_do_not_wait_on_a_relay_busy_with_nats(
    app: FastAPI,
    nats_client: NatsClient,
    stream: StreamSpec,
    clock: FixedClock,
    create_partners: Callable[[int], Awaitable[None]],
) -> None:
    """A relay between publish and mark (as long as a NATS call can take) holds no lock an API write needs: on
    SQLite the relay must not keep the database's single write lock across NATS calls."""
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await create_partners(1)
    stuck = OutboxRelay(app.state.sessionmaker, nats_client, stream, clock, before_mark=_hang)
    publishing = asyncio.create_task(stuck.publish_batch())
    try:
        await wait_until(lambda: _stream_count(nats_client, stream, 2), "the relay to publish", TIMEOUT)
        await asyncio.wait_for(create_partners(1), TIMEOUT)  # would wait on the relay's lock
    finally:
        publishing.cancel()  # the relay dies before marking
        with contextlib.suppress(asyncio.CancelledError):
            await publishing
    rows = await outbox_rows(app.state.sessionmaker)
    assert len(rows) == 3 and all(row.published_at is None for row in rows)

    restarted = OutboxRelay(app.state.sessionmaker, nats_client, stream, clock)
    assert await restarted.drain() == 3
    assert restarted.stats.duplicates == 2
    assert message_ids(await stream_messages(js, stream.name)) == event_ids(rows)


async def test_a_relay_dying_between_reading_and_publishing_leaves_the_rows_to_the_next_one(
    app: FastAPI,
    nats_client: NatsClient,
    stream: StreamSpec,
    clock: FixedClock,
    create_partners: Callable[[int], Awaitable[None]],
) -> None:
    """Killed once it holds a batch and before publishing any of it (`before_publish`): nothing of the batch is
    on the bus nor marked, and a restarted relay publishes all of it, once."""
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await create_partners(2)
    before = len(await outbox_rows(app.state.sessionmaker))
    held: list[int] = []

    async def hold(count: int) -> None:
        held.append(count)
        await asyncio.sleep(60)

    stuck = OutboxRelay(app.state.sessionmaker, nats_client, stream, clock, before_publish=hold)
    publishing = asyncio.create_task(stuck.publish_batch())
    try:
        await wait_until(lambda: held, "the relay to read its batch", TIMEOUT)
        await asyncio.wait_for(create_partners(1), TIMEOUT)  # the API writes meanwhile
    finally:
        publishing.cancel()  # the relay dies before publishing
        with contextlib.suppress(asyncio.CancelledError):
            await publishing
    assert held == [before]
    assert await stream_messages(js, stream.name) == []
    rows = await outbox_rows(app.state.sessionmaker)
    assert len(rows) > before and all(row.published_at is None for row in rows)

    restarted = OutboxRelay(app.state.sessionmaker, nats_client, stream, clock)
    assert await restarted.drain() == len(rows)
    assert restarted.stats.duplicates == 0
    assert message_ids(await stream_messages(js, stream.name)) == event_ids(rows)


async def _hang(_published: int) -> None:
    """The relay's hook between publish and mark: it stays there (as long as a NATS call can take)."""
    await asyncio.sleep(60)


async def _stream_count(nats_client: NatsClient, stream: StreamSpec, expected: int) -> bool:
    return len(await stream_messages(nats_client.jetstream(), stream.name)) == expected
