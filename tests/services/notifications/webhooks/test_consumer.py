"""Events from a real nats-server (JetStream) to the intranet's receiver, without duplicates on redelivery."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats
import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from services.notifications.webhooks import service
from services.notifications.webhooks.consumer import WebhookConsumer, run_webhooks
from services.notifications.webhooks.dispatcher import WebhookDispatcher
from services.notifications.webhooks.models import WebhookDelivery
from shared.bus import StreamSpec, ensure_stream, publish_event
from shared.events.envelope import EventEnvelope
from tests.services.notifications.webhooks.conftest import Receiver, settings_for
from tests.services.notifications.webhooks.test_dispatch import LOCAL, envelope, subscribe


@dataclass
class Bus:
    client: NatsClient
    stream: StreamSpec

    async def publish(self, event: EventEnvelope, message_id: str | None = None) -> None:
        await publish_event(
            self.client.jetstream(),
            self.stream,
            message_id or str(event.id),
            event.type,
            event.model_dump_json().encode(),
            {},
        )


@pytest.fixture
async def bus(nats_url: str, stream_names: tuple[str, str]) -> AsyncIterator[Bus]:
    """A stream of this test's own (named after the run's, so the run's cleanup removes it too)."""
    suffix = uuid.uuid4().hex[:8]
    client = await nats.connect(nats_url)
    stream = StreamSpec(f"{stream_names[0]}_WH{suffix}", f"{stream_names[1]}wh{suffix}")
    await ensure_stream(client.jetstream(), stream)
    yield Bus(client, stream)
    with contextlib.suppress(Exception):
        await client.jetstream().delete_stream(stream.name)
    await client.close()


async def wait_for(condition, what: str, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until `condition()` holds (a bound on waiting, not an assertion on time)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still waiting for {what}")
        await asyncio.sleep(0.05)


async def count_deliveries(sessionmaker) -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


async def test_the_process_entry_point_delivers_a_published_event(
    bus, sessionmaker, clock, receiver: Receiver, notifications_database_url, nats_url
):
    hook = await subscribe(sessionmaker, clock, receiver.url("/bus"), ["deadline.escalated"])
    settings = settings_for(
        notifications_database_url,
        nats_url,
        (bus.stream.name, bus.stream.subject_prefix),
        webhook_allow_private_targets=True,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_webhooks(settings, clock, stop))
    try:
        ignored, wanted = envelope(clock, "item.created"), envelope(clock, "deadline.escalated")
        await bus.publish(ignored)
        await bus.publish(wanted)
        await wait_for(lambda: len(receiver.requests) >= 1, "the webhook POST")
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=30)
    [received] = receiver.requests
    assert received.headers["webhook-id"] == str(wanted.id)
    assert Webhook(hook.secret).verify(received.body, received.headers)["type"] == "deadline.escalated"
    # Consumed and acknowledged: nothing is left pending on the durable consumer.
    info = await bus.client.jetstream().consumer_info(bus.stream.name, settings.webhook_consumer_durable)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


async def test_a_redelivered_or_republished_event_is_not_sent_twice(
    bus, sessionmaker, clock, receiver: Receiver
):
    hook = await subscribe(sessionmaker, clock, receiver.url("/once"))
    consumer = WebhookConsumer(
        bus.client, bus.stream, sessionmaker, clock, durable=f"wh_{uuid.uuid4().hex[:8]}", ack_wait_seconds=30
    )
    dispatcher = WebhookDispatcher(sessionmaker, clock, target_policy=LOCAL)
    subscription = await consumer.subscribe()
    event = envelope(clock)
    await bus.publish(event)

    # First delivery: its deliveries are committed, then the process dies before acknowledging (nak stands in
    # for the lost ack, without waiting out ack_wait).
    [first] = await subscription.fetch(1, timeout=5)
    async with sessionmaker() as session, session.begin():
        assert await service.record_event(session, clock, EventEnvelope.model_validate_json(first.data)) == 1
    await dispatcher.dispatch_due()
    await first.nak()

    # NATS delivers it again: recorded already, so nothing new is queued; this time it is acknowledged.
    [again] = await subscription.fetch(1, timeout=5)
    assert again.metadata.num_delivered == 2
    await consumer.handle(again)
    # The same event published again under another message id (outside JetStream's dedup window).
    await bus.publish(event, message_id=f"{event.id}-republished")
    [republished] = await subscription.fetch(1, timeout=5)
    await consumer.handle(republished)
    await dispatcher.dispatch_due()

    assert await count_deliveries(sessionmaker) == 1
    assert consumer.recorded == 0
    [received] = receiver.requests
    Webhook(hook.secret).verify(received.body, received.headers)
    info = await bus.client.jetstream().consumer_info(bus.stream.name, consumer.durable)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


async def test_an_unreadable_message_is_terminated_not_redelivered(bus, sessionmaker, clock):
    consumer = WebhookConsumer(
        bus.client, bus.stream, sessionmaker, clock, durable=f"wh_{uuid.uuid4().hex[:8]}"
    )
    subscription = await consumer.subscribe()
    await publish_event(bus.client.jetstream(), bus.stream, "garbage-1", "item.created", b"not json", {})
    [message] = await subscription.fetch(1, timeout=5)
    await consumer.handle(message)
    with pytest.raises(nats.errors.TimeoutError):
        await subscription.fetch(1, timeout=1)
    assert await count_deliveries(sessionmaker) == 0
