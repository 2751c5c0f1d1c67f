"""The reminder consumer against a real nats-server and the commitments service over HTTP: an event whose
reminder context the commitments service refuses (4xx) is terminated at once, loudly, not retried forever;
the durable consumer bounds redeliveries; a batch asks a bounded number of reminder contexts at once."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from services.notifications import consumer as consumer_module
from services.notifications.config import NotificationsSettings
from services.notifications.consumer import worker
from shared.bus import StreamSpec, ensure_stream
from shared.clock import SystemClock
from tests.services.notifications.deliveries.test_delivery_guarantees import consumer_drained, deliveries, running
from tests.services.notifications.deliveries.test_handover import consume_one_batch
from tests.services.notifications.support import (
    SinkHandler,
    World,
    publish,
    reminder_event,
    wait_until,
)


async def test_a_refused_context_terminates_the_event(
        notifications_settings: NotificationsSettings, world: World, nats_client: NatsClient, stream: StreamSpec,
        sink: tuple[Any, SinkHandler], caplog: pytest.LogCaptureFixture) -> None:
    _, handler = sink
    # The service key was revoked: every reminder-context answers 401.
    settings = notifications_settings.model_copy(update={"commitments_api_key": "revoked-key",
                                                         "consumer_max_deliver": 7})
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
    assert any(str(event.id) in record.getMessage() and "401" in record.getMessage() for record in caplog.records)


async def test_a_batch_asks_a_bounded_number_of_contexts_at_once(
        notifications_settings: NotificationsSettings, world: World, nats_client: NatsClient, stream: StreamSpec,
        sink: tuple[Any, SinkHandler], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "CONTEXT_REQUESTS_AT_ONCE", 2)
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    # Six distinct questions: two items, three sets of audiences each.
    for item in ("item", "vsgp_item"):
        for audience in (("liaison",), ("deputy",), ("liaison", "deputy")):
            await publish(js, stream, reminder_event(world, "due", item=item, step="-".join(audience),
                                                     audience=audience))
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
