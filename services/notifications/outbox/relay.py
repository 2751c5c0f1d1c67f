"""The outbox relay of the notifications service: shared/outbox/relay.py bound to its `notifications_outbox`
table, publishing to the service's own stream (NOTIFICATIONS_EVENTS_STREAM, subjects
`<NOTIFICATIONS_EVENTS_SUBJECT_PREFIX>.>`)."""

from __future__ import annotations

import contextlib

from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.config import NotificationsSettings
from services.notifications.outbox.models import OutboxMessage
from shared.clock import Clock
from shared.db import create_engine, create_sessionmaker
from shared.metrics import Hook, outbox_lag_hook
from shared.outbox import relay
from shared.outbox.relay import ping_relays
from shared.probes import worker_probes
from shared.worker_process import connect_unless_stopped, stop_on_signals

__all__ = ["OutboxRelay", "outbox_lag", "ping_relays", "run_until_stopped"]


class OutboxRelay(relay.OutboxRelay):
    model = OutboxMessage


async def outbox_lag(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> dict[str, float | int]:
    """How many outbox rows the relays have yet to publish, and the age of the oldest (shared/outbox/relay.py)."""
    return await relay.outbox_lag(sessionmaker, OutboxMessage, clock)


async def run_until_stopped(settings: NotificationsSettings, clock: Clock) -> None:
    """The `relay` command: publish the outbox until SIGTERM or SIGINT (when OUTBOX_RELAY_IN_WORKER is false,
    or to run more relays). HEALTH_PORT: ready while NATS is connected and the database answers; /metrics."""
    stop = stop_on_signals()
    connection: dict[str, NatsClient] = {}
    hooks: list[Hook] = []
    async with worker_probes(
        settings.health_port, settings.database_url, lambda: connection.get("nats"), hooks
    ):
        client = await connect_unless_stopped(stop, settings.nats_url, name="notifications-relay")
        if client is None:
            return
        connection["nats"] = client
        engine = create_engine(settings.database_url)
        sessionmaker = create_sessionmaker(engine)
        stream = settings.notifications_stream()
        hooks.append(outbox_lag_hook(stream.name, lambda: outbox_lag(sessionmaker, clock)))
        relay = OutboxRelay(
            sessionmaker,
            client,
            stream,
            clock,
            batch_size=settings.outbox_relay_batch_size,
            poll_seconds=settings.outbox_relay_poll_seconds,
        )
        try:
            await relay.run(stop)  # declares the stream (ensure_stream) before relaying
        finally:
            with contextlib.suppress(Exception):
                await client.drain()
            await engine.dispose()
