"""The reminder consumer against a real nats-server and the commitments service over HTTP: deliveries are written
pending and the sender is woken after the commit; an event whose reminder context the commitments service refuses
(4xx) is terminated at once, loudly, not retried forever; the durable consumer bounds redeliveries; a batch asks
a bounded number of reminder contexts at once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from services.notifications import consumer as consumer_module
from services.notifications.config import NotificationsSettings
from services.notifications.consumer import Worker, worker
from shared.bus import StreamSpec, ensure_stream
from shared.clock import FixedClock, SystemClock
from tests.services.notifications.running_worker import (
    consumer_drained,
    deliveries,
    running,
)
from tests.services.notifications.world import World, publish, reminder_event
from tests.smtp_sink import SinkHandler
from tests.waiting import wait_until


async def consume_one_batch(running_worker: Worker) -> None:
    """Fetch what the stream holds (up to 10) and handle it as the consumer loop would, once."""
    await running_worker.consumer.subscribe()
    assert running_worker.consumer.subscription is not None
    messages = await running_worker.consumer.subscription.fetch(10, timeout=5)
    await running_worker.consumer.handle(messages)


async def test_deliveries_are_written_pending_then_the_sender_is_woken(
    notifications_settings: NotificationsSettings,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    event = reminder_event(world, "due")  # to the liaison and the deputy
    await publish(js, stream, event)
    clock = FixedClock(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    async with worker(notifications_settings, clock) as running_worker:
        woken: list[bool] = []
        running_worker.consumer.on_recorded = lambda: woken.append(True)
        await consume_one_batch(running_worker)
        rows = await deliveries(running_worker)
        # Pending, due now, claimed by nobody: the sender claims them from the table like any other.
        assert [(row.status, row.attempts, row.next_attempt_at, row.claimed_by) for row in rows] == [
            ("pending", 0, clock.now(), None)
        ] * 2
        assert woken == [True]
        assert await running_worker.sender.send_due() == 2
        # The same event again (another message id: past the stream's duplicate window, say): nothing new.
        await publish(js, stream, event, msg_id=f"{event.id}-again")
        await consume_one_batch(running_worker)
        assert await running_worker.sender.send_due() == 0
        rows = await deliveries(running_worker)
    assert [(row.status, row.attempts, row.claimed_by) for row in rows] == [("sent", 1, None)] * 2
    assert sorted(mail.to for mail in handler.all()) == sorted(
        [world.emails["liaison"], world.emails["deputy"]]
    )


async def test_a_refused_context_terminates_the_event(
    notifications_settings: NotificationsSettings,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, handler = sink
    # The service key was revoked: every reminder-context answers 401.
    settings = notifications_settings.model_copy(
        update={"commitments_api_key": "revoked-key", "consumer_max_deliver": 7}
    )
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    event = reminder_event(world, "due")
    await publish(js, stream, event)
    with caplog.at_level(logging.ERROR, logger="services.notifications.consumer"):
        async with running(settings) as running_worker:
            await wait_until(lambda: consumer_drained(running_worker), "the event terminated")
            assert running_worker.consumer.subscription is not None
            info = await running_worker.consumer.subscription.consumer_info()
            rows = await deliveries(running_worker)
    assert info.config.max_deliver == 7
    assert info.num_redelivered == 0  # terminated on its first delivery, not naked again
    assert rows == [] and handler.all() == []
    assert any(
        str(event.id) in record.getMessage() and "401" in record.getMessage() for record in caplog.records
    )


async def test_a_batch_asks_a_bounded_number_of_contexts_at_once(
    notifications_settings: NotificationsSettings,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consumer_module, "CONTEXT_REQUESTS_AT_ONCE", 2)
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    # Six distinct questions: two items, three sets of audiences each.
    for item in ("item", "vsgp_item"):
        for audience in (("liaison",), ("deputy",), ("liaison", "deputy")):
            await publish(
                js,
                stream,
                reminder_event(world, "due", item=item, step="-".join(audience), audience=audience),
            )
    async with worker(notifications_settings, SystemClock()) as running_worker:
        commitments = running_worker.consumer.commitments
        asked, in_flight, peak = [], 0, 0
        answer = commitments.reminder_context

        async def counting(*question: Any) -> Any:
            nonlocal in_flight, peak
            asked.append(question)
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await answer(*question)
            finally:
                in_flight -= 1

        monkeypatch.setattr(commitments, "reminder_context", counting)
        await consume_one_batch(running_worker)
        rows = await deliveries(running_worker)
    assert len(asked) == 6 and peak == 2
    # Every recipient recorded: Hauts-de-Seine Habitat has a liaison and a deputy, Vallée Sud a liaison only.
    assert len(rows) == 6
