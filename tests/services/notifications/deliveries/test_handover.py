"""The consumer hands the deliveries it writes to the sender of its process, already claimed, so that they go
out without being read back from the table: with a real nats-server, a real SMTP server and the commitments
service over HTTP. Written claimed means leased and counted like a claim; a redelivered event hands nothing
over; a batch that waited renews its lease before sending, and sends nothing another sender has taken since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nats.aio.client import Client as NatsClient

from services.notifications.config import NotificationsSettings
from services.notifications.consumer import Worker, worker
from services.notifications.deliveries.sender import DeliverySender
from services.notifications.smtp import SmtpPool
from shared.bus import StreamSpec, ensure_stream
from shared.clock import FixedClock
from tests.services.notifications.deliveries.test_delivery_guarantees import deliveries
from tests.services.notifications.support import SinkHandler, World, publish, reminder_event

START = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


async def consume_one_batch(running_worker: Worker) -> None:
    """Fetch what the stream holds (up to 10) and handle it as the consumer loop would, once."""
    await running_worker.consumer.subscribe()
    assert running_worker.consumer.subscription is not None
    messages = await running_worker.consumer.subscription.fetch(10, timeout=5)
    await running_worker.consumer.handle(messages)


async def test_written_claimed_then_sent_without_a_claim_and_a_duplicate_hands_nothing_over(
        notifications_settings: NotificationsSettings, world: World, nats_client: NatsClient, stream: StreamSpec,
        sink: tuple[Any, SinkHandler]) -> None:
    _, handler = sink
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    event = reminder_event(world, "due")  # to the liaison and the deputy
    await publish(js, stream, event)
    lease = timedelta(seconds=notifications_settings.sender_lease_seconds)
    async with worker(notifications_settings, FixedClock(START)) as running_worker:
        await consume_one_batch(running_worker)
        rows = await deliveries(running_worker)
        # Committed as a claim leaves rows: pending, first attempt counted, leased; the table has nothing due.
        assert [(row.status, row.attempts, row.next_attempt_at) for row in rows] == [("pending", 1, START + lease)] * 2
        assert await running_worker.sender.claim() is None
        assert await running_worker.sender.send_due() == 2
        # The same event again (another message id: past the stream's duplicate window, say).
        await publish(js, stream, event, msg_id=f"{event.id}-again")
        await consume_one_batch(running_worker)
        assert await running_worker.sender.send_due() == 0
        rows = await deliveries(running_worker)
    assert [(row.status, row.attempts) for row in rows] == [("sent", 1)] * 2
    assert sorted(mail.to for mail in handler.all()) == sorted([world.emails["liaison"], world.emails["deputy"]])


async def test_a_batch_that_waited_renews_its_lease_and_leaves_what_another_sender_took(
        notifications_settings: NotificationsSettings, world: World, nats_client: NatsClient, stream: StreamSpec,
        sink: tuple[Any, SinkHandler]) -> None:
    _, handler = sink
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "due", step="first", audience=("liaison",)))
    lease = timedelta(seconds=notifications_settings.sender_lease_seconds)
    clock = FixedClock(START)
    async with worker(notifications_settings, clock) as running_worker:
        # Handed over, then kept waiting half its lease (a slow SMTP server): renewed, then sent.
        await consume_one_batch(running_worker)
        clock.advance(lease / 2)
        assert await running_worker.sender.send_due() == 1
        # Handed over, then kept waiting past its lease: another sender claimed and sent the row meanwhile.
        await publish(js, stream, reminder_event(world, "due", step="second", audience=("liaison",)))
        await consume_one_batch(running_worker)
        clock.advance(lease + timedelta(seconds=1))
        smtp = SmtpPool(notifications_settings)
        try:
            other = DeliverySender(running_worker.sessionmaker, notifications_settings, clock,
                                   running_worker.sender.commitments, smtp)
            assert await other.send_due() == 1
        finally:
            await smtp.close()
        assert await running_worker.sender.send_due() == 0
        rows = await deliveries(running_worker)
    assert [(row.status, row.attempts) for row in rows] == [("sent", 1), ("sent", 2)]
    assert [mail.to for mail in handler.all()] == [world.emails["liaison"]] * 2
