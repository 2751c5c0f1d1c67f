"""The reminder consumer against a real nats-server and the commitments service over HTTP: an event whose
reminder context the commitments service refuses (4xx) is terminated at once, loudly, not retried forever;
the durable consumer bounds redeliveries."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from services.notifications.config import NotificationsSettings
from shared.bus import StreamSpec, ensure_stream
from tests.services.notifications.deliveries.test_delivery_guarantees import consumer_drained, deliveries, running
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
