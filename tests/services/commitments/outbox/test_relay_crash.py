"""The relay killed for real (SIGKILL of `python -m services.commitments relay`, a separate OS process) loses
nothing and publishes nothing twice: JetStream drops the re-publish of rows published but not yet marked,
because `Nats-Msg-Id` is the event id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from shared.bus import StreamSpec
from tests.jetstream import stream_messages
from tests.services.commitments.outbox.published import event_ids, message_ids, outbox_rows
from tests.services.commitments.outbox.relay_process import RelayProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

START_TIMEOUT = 30.0  # a cold Python start with SQLAlchemy and NATS imports, on a slow machine
NO_POLL_SECONDS = 2 * START_TIMEOUT


async def _outbox_drained(app: FastAPI) -> bool:
    return all(row.published_at is not None for row in await outbox_rows(app.state.sessionmaker))


async def test_relay_crashes_lose_nothing_and_duplicate_nothing(
    app: FastAPI,
    nats_client: NatsClient,
    stream: StreamSpec,
    start_relay: Callable[..., Awaitable[RelayProcess]],
    create_partners: Callable[[int], Awaitable[None]],
) -> None:
    """Two crashes in one run, to start as few processes as possible: rows published but not marked when the
    relay was killed (re-published, dropped by JetStream), and rows committed after it was killed, while no
    relay ran (published once, as new messages)."""
    js = nats_client.jetstream()
    await create_partners(4)
    published_unmarked = await outbox_rows(app.state.sessionmaker)
    assert len(published_unmarked) == 5  # the admin key's event and 4 partners
    assert all(row.published_at is None for row in published_unmarked)

    crashing = await start_relay(pause_before_mark_seconds=30)
    unmarked = await crashing.wait_for_json_line(
        lambda line: line.get("relay") == "published-unmarked", START_TIMEOUT
    )
    assert unmarked["count"] == len(published_unmarked)
    await crashing.kill()

    # The crash window: every event is in the stream, no row says so.
    assert all(row.published_at is None for row in await outbox_rows(app.state.sessionmaker))
    assert message_ids(await stream_messages(js, stream.name)) == event_ids(published_unmarked)

    # Committed while no relay runs: the dead relay never saw these.
    await create_partners(2)
    rows = await outbox_rows(app.state.sessionmaker)
    never_published = rows[len(published_unmarked) :]
    assert len(never_published) == 2 and all(row.published_at is None for row in rows)

    # A poll longer than the wait: only the drain the relay does as it starts can publish these rows.
    restarted = await start_relay(poll_seconds=NO_POLL_SECONDS)
    await wait_until(lambda: _outbox_drained(app), "the restarted relay to drain the outbox", START_TIMEOUT)
    assert await restarted.stop() == 0

    # Exactly one message per row, in outbox order: nothing lost, nothing twice.
    assert message_ids(await stream_messages(js, stream.name)) == event_ids(rows)
    # The restarted relay re-published the unmarked rows and JetStream told it they were duplicates (PubAck);
    # the rows committed after the crash went out as new messages.
    deduplicated = restarted.deduplicated_event_ids()
    assert sorted(deduplicated) == sorted(event_ids(published_unmarked)), restarted.log_text()
