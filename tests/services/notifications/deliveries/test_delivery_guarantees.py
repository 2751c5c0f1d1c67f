"""Delivery guarantees with a real nats-server, a real SMTP server and the commitments service over HTTP:
no duplicate mail for a redelivered or duplicated event, 451 retried until it succeeds, 550 failed once and
reported to the item's city owner."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from nats.aio.client import Client as NatsClient

from services.notifications.config import NotificationsSettings
from shared.bus import StreamSpec, ensure_stream
from tests.services.notifications.running_worker import consumer_drained, deliveries, have_statuses, running
from tests.services.notifications.world import World, publish, reminder_event
from tests.smtp_sink import SinkHandler
from tests.waiting import wait_until


async def test_redelivering_every_event_sends_no_duplicate(
    notifications_settings: NotificationsSettings,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    events = [reminder_event(world, kind) for kind in ("approaching", "due", "overdue")]
    for event in events:
        await publish(js, stream, event)
    async with running(notifications_settings) as first:
        await wait_until(
            lambda: len(handler.all()) == 6, "two mails (liaison, deputy) for each of three events"
        )
        await wait_until(lambda: consumer_drained(first), "every event acked")
    # Every message again: the same events re-published past JetStream's dedup, and a second durable consumer
    # that reads the whole stream from the start.
    for event in events:
        await publish(js, stream, event, msg_id=str(uuid.uuid4()))
    again = notifications_settings.model_copy(
        update={"consumer_durable": f"{notifications_settings.consumer_durable}_2"}
    )
    async with running(notifications_settings) as first, running(again) as second:
        await wait_until(lambda: consumer_drained(first), "the duplicates consumed")
        await wait_until(lambda: consumer_drained(second), "the whole stream redelivered")
        rows = await deliveries(second)
    assert len(rows) == 6 and {row.status for row in rows} == {"sent"}
    per_recipient = Counter((mail.message_id, mail.to) for mail in handler.all())
    assert len(per_recipient) == 6 and set(per_recipient.values()) == {1}
    assert sorted(mail.to for mail in handler.all()) == sorted(
        [world.emails["liaison"], world.emails["deputy"]] * 3
    )
    assert {row.message_id for row in rows} == {mail.message_id for mail in handler.all()}


async def test_smtp_451_is_retried_until_it_succeeds(
    notifications_settings: NotificationsSettings,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    handler.temporary_failures[world.emails["liaison"]] = 3
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "due", audience=("liaison",)))
    async with running(notifications_settings) as running_worker:
        await wait_until(
            lambda: handler.mails_to(world.emails["liaison"]), "the mail, after three 451 answers"
        )
        await wait_until(lambda: have_statuses(running_worker, {"sent"}), "the delivery marked sent")
        [row] = await deliveries(running_worker)
    assert handler.refusals == [(world.emails["liaison"], 451)] * 3
    assert len(handler.mails_to(world.emails["liaison"])) == 1
    assert (row.status, row.attempts, row.last_error) == ("sent", 4, None)
    assert handler.mails_to(world.emails["liaison"])[0].message_id == row.message_id


async def test_smtp_550_fails_at_once_and_is_reported_once_to_the_city_owner(
    notifications_settings: NotificationsSettings,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    handler.rejected.add(world.emails["liaison"])
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    event = reminder_event(world, "overdue", audience=("liaison",))
    await publish(js, stream, event)
    async with running(notifications_settings) as running_worker:
        await wait_until(
            lambda: handler.mails_to(world.emails["owner"]), "the failure report to the city owner"
        )
        # The server has the report; its outcome is committed a moment later.
        await wait_until(lambda: have_statuses(running_worker, {"failed", "sent"}), "every outcome recorded")
        # A redelivered event and more sender passes change nothing: one failure, one report.
        await publish(js, stream, event, msg_id=str(uuid.uuid4()))
        await wait_until(lambda: consumer_drained(running_worker), "the duplicate consumed")
        await running_worker.sender.send_due()
        rows = await deliveries(running_worker)
    assert handler.refusals == [(world.emails["liaison"], 550)]
    failed = next(row for row in rows if row.kind == "reminder")
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error is not None and failed.last_error.startswith("550")
    report = next(row for row in rows if row.kind == "failure_report")
    assert (report.status, report.related_delivery_id, str(report.contact_id)) == (
        "sent",
        failed.id,
        world.ids["owner"],
    )
    [mail] = handler.mails_to(world.emails["owner"])
    assert "550" in mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert len(rows) == 2
