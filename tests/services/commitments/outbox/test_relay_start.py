"""A relay started (or restarted after a crash) with events waiting publishes them as it starts, not at its
first poll; and it starts light: no web framework, no working-day calendar, no tracing SDK."""

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

START_TIMEOUT = 30.0  # a cold Python start on a slow, busy machine
NO_POLL_SECONDS = 2 * START_TIMEOUT
# What the relay has no use for: the API's framework, the domain's models and event schemas, the French
# holidays, the tracing SDK (tracing is off).
NOT_FOR_THE_RELAY = (
    "fastapi",
    "starlette.routing",
    "services.commitments.items",
    "shared.events",
    "holidays",
    "opentelemetry.sdk",
)


async def test_relay_publishes_waiting_events_as_it_starts(
    app: FastAPI,
    nats_client: NatsClient,
    stream: StreamSpec,
    start_relay: Callable[..., Awaitable[RelayProcess]],
    create_partners: Callable[[int], Awaitable[None]],
) -> None:
    await create_partners(3)  # committed while no relay runs: nobody hears the wake-up pings
    rows = await outbox_rows(app.state.sessionmaker)
    # The admin key's event and 3 partners.
    assert len(rows) == 4 and all(row.published_at is None for row in rows)

    # Its poll is longer than the wait and nothing is committed after it starts: only its first drain can
    # publish these rows. PYTHONPROFILEIMPORTTIME lists in its log every module it imported.
    relay = await start_relay(poll_seconds=NO_POLL_SECONDS, extra_env={"PYTHONPROFILEIMPORTTIME": "1"})
    await wait_until(lambda: _drained(app), "the relay to publish the waiting events", START_TIMEOUT)
    assert await relay.stop() == 0

    assert message_ids(await stream_messages(nats_client.jetstream(), stream.name)) == event_ids(rows)
    imported = relay.imported_modules()
    assert "services.commitments.outbox.relay" in imported, relay.log_text()[:2000]
    assert not [name for name in imported if name.startswith(NOT_FOR_THE_RELAY)]


async def _drained(app: FastAPI) -> bool:
    return all(row.published_at is not None for row in await outbox_rows(app.state.sessionmaker))
