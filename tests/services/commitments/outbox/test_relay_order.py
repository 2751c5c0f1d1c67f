"""Several relays on one outbox (PostgreSQL) keep the stream in `position` order: one publishes at a time
(active/standby, under an advisory lock taken with the batch), so neither two relays running at once nor one
killed between reading its batch and publishing it can put later rows ahead of earlier ones on the stream (the
reporting projector applies each item's events in stream order)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from services.commitments.outbox.relay import OutboxRelay
from shared.bus import StreamSpec, ensure_stream
from shared.clock import FixedClock
from tests.jetstream import stream_messages
from tests.services.commitments.outbox.published import event_ids, message_ids, outbox_rows
from tests.services.commitments.outbox.relay_process import RelayProcess
from tests.waiting import wait_until

# The lock is PostgreSQL's; SQLite runs one relay, in the API's process.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

TIMEOUT = 10.0
START_TIMEOUT = 30.0  # a cold Python start with SQLAlchemy and NATS imports, on a slow machine


async def test_two_relays_at_once_publish_in_position_order(
    app: FastAPI,
    nats_client: NatsClient,
    stream: StreamSpec,
    clock: FixedClock,
    create_partners: Callable[[int], Awaitable[None]],
) -> None:
    """Relay A holds its batch (the first two rows) while relay B looks: B publishes nothing, rather than the
    next rows ahead of A's. Then both drain at once, in small batches: the stream's order is the outbox's."""
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await create_partners(5)  # with the admin key's event, 6 rows
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold_first_batch(_count: int) -> None:
        if not release.is_set():
            holding.set()
            await release.wait()

    first = OutboxRelay(app.state.sessionmaker, nats_client, stream, clock, batch_size=2)
    first.before_publish = hold_first_batch
    second = OutboxRelay(app.state.sessionmaker, nats_client, stream, clock, batch_size=2)
    publishing = asyncio.create_task(first.publish_batch())
    try:
        await asyncio.wait_for(holding.wait(), TIMEOUT)
        assert await second.publish_batch() == 0  # standing by: the first relay publishes
        assert await stream_messages(js, stream.name) == []
        release.set()
        assert await asyncio.wait_for(publishing, TIMEOUT) == 2
    finally:
        release.set()
        publishing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publishing

    await create_partners(10)
    await asyncio.wait_for(asyncio.gather(first.drain(), second.drain(), first.drain()), 3 * TIMEOUT)
    rows = await outbox_rows(app.state.sessionmaker)
    assert len(rows) == 16 and all(row.published_at is not None for row in rows)
    assert message_ids(await stream_messages(js, stream.name)) == event_ids(rows)
    assert first.stats.duplicates == second.stats.duplicates == 0


@pytest.mark.slow
async def test_a_relay_killed_holding_its_batch_is_taken_over_in_position_order(
    app: FastAPI,
    nats_client: NatsClient,
    stream: StreamSpec,
    clock: FixedClock,
    start_relay: Callable[..., Awaitable[RelayProcess]],
    create_partners: Callable[[int], Awaitable[None]],
) -> None:
    """A relay process reads a batch and is killed (SIGKILL) before publishing it, while the API commits more
    rows: the standby publishes nothing while the dead relay's lock holds, then, the lock gone with its
    connection, everything in position order, the dead relay's rows first."""
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await create_partners(3)
    batch = await outbox_rows(app.state.sessionmaker)
    dying = await start_relay(pause_before_publish_seconds=60)
    read = await dying.wait_for_json_line(lambda line: line.get("relay") == "read-unpublished", START_TIMEOUT)
    assert read["count"] == len(batch) == 4

    await create_partners(2)  # committed while the dying relay holds the first rows
    standby = OutboxRelay(app.state.sessionmaker, nats_client, stream, clock)
    assert await standby.publish_batch() == 0
    assert await stream_messages(js, stream.name) == []

    await dying.kill()
    rows = await outbox_rows(app.state.sessionmaker)
    assert len(rows) == 6 and all(row.published_at is None for row in rows)

    async def taken_over() -> bool:
        await standby.drain()  # finds the lock taken until the server has noticed the dead connection
        return all(row.published_at is not None for row in await outbox_rows(app.state.sessionmaker))

    await wait_until(taken_over, "the standby relay to take over", TIMEOUT)
    assert message_ids(await stream_messages(js, stream.name)) == event_ids(rows)
    assert standby.stats.published == 6 and standby.stats.duplicates == 0
