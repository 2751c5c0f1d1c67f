"""The notifications service's own events on a real nats-server: the worker's relay publishes what happened to
each reminder to the service's stream (Nats-Msg-Id = event id, subject `<prefix>.<type>`), ids only (no "@"
anywhere in a published event); an action link used later is told with the partner of the contact it was sent
to; a re-publish of the whole outbox is dropped by JetStream's dedup."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from nats.aio.client import Client as NatsClient
from nats.js.api import RawStreamMsg
from sqlalchemy import select, update

from services.notifications.app import create_app
from services.notifications.config import NotificationsSettings
from services.notifications.outbox.models import OutboxMessage
from services.notifications.outbox.relay import OutboxRelay
from shared.bus import StreamSpec, ensure_stream
from shared.clock import SystemClock
from shared.events import EventEnvelope
from shared.events.notifications import ActionLinkUsed, DeliveryFailed, DeliverySent
from tests.jetstream import stream_messages
from tests.services.commitments.outbox.published import message_ids
from tests.services.notifications.running_worker import running
from tests.services.notifications.world import World, publish, reminder_event
from tests.smtp_sink import SinkHandler
from tests.waiting import wait_until

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _envelopes(messages: list[RawStreamMsg]) -> list[EventEnvelope]:
    return [EventEnvelope.model_validate_json(message.data or b"") for message in messages]


def _assert_no_address(messages: list[RawStreamMsg], emails: dict[str, str]) -> None:
    for message in messages:
        published = (message.data or b"").decode() + repr(message.headers)
        assert "@" not in published, published
        assert not any(address.split("@")[0] in published for address in emails.values())


async def test_the_worker_publishes_each_outcome_once_without_an_address(
    notifications_settings: NotificationsSettings,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    handler.rejected.add(world.emails["deputy"])  # 550: failed for good
    own = notifications_settings.notifications_stream()
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "due"))  # to the liaison and the deputy
    async with running(notifications_settings) as running_worker:
        assert running_worker.relay is not None  # OUTBOX_RELAY_IN_WORKER, the default
        await wait_until(
            lambda: _count(js, own.name, 2), "both outcomes published to the service's own stream"
        )
        # The liaison uses the "acknowledge" link of the mail she received.
        [mail] = handler.mails_to(world.emails["liaison"])
        link = _acknowledge_link(mail)
        app = create_app(notifications_settings, SystemClock())
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://notifications.test"
            ) as browser,
        ):
            answer = await browser.post(
                link.removeprefix(notifications_settings.public_base_url), headers=FORM, content=b""
            )
            assert answer.status_code == 200, answer.text
        # Written by the API process, published by the worker's relay (woken over NATS, or at its next poll).
        await wait_until(lambda: _count(js, own.name, 3), "the link's use published")
    messages = await stream_messages(js, own.name)
    envelopes = _envelopes(messages)
    assert [message.subject for message in messages] == [f"{own.subject_prefix}.{e.type}" for e in envelopes]
    async with running_worker.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.position))).all()
    assert message_ids(messages) == [
        str(row.event_id) for row in rows
    ]  # one message per row, dedup id = event id
    assert all(row.published_at is not None for row in rows)
    outcomes = {
        event.contact_id: event
        for event in (e.parsed() for e in envelopes)
        if isinstance(event, DeliverySent | DeliveryFailed)
    }
    liaison, deputy = uuid.UUID(world.ids["liaison"]), uuid.UUID(world.ids["deputy"])
    assert isinstance(outcomes[liaison], DeliverySent) and isinstance(outcomes[deputy], DeliveryFailed)
    assert (outcomes[deputy].reason, outcomes[deputy].permanent) == ("smtp-refused", True)
    for event in outcomes.values():
        assert (str(event.item_id), str(event.plan_id), str(event.deadline_id), str(event.partner_id)) == (
            world.ids["item"],
            world.ids["plan"],
            world.ids["item_deadline"],
            world.ids["hsh"],
        )
    [used] = [e.parsed() for e in envelopes if e.type == "action_link.used"]
    assert isinstance(used, ActionLinkUsed)
    assert (used.action, used.contact_id, str(used.partner_id)) == ("acknowledge", liaison, world.ids["hsh"])
    _assert_no_address(messages, world.emails)


async def test_a_republished_outbox_is_dropped_by_the_stream(
    notifications_settings: NotificationsSettings,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    own = notifications_settings.notifications_stream()
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "due"))
    async with running(notifications_settings) as running_worker:
        await wait_until(lambda: _count(js, own.name, 2), "both outcomes published")
    before = await stream_messages(js, own.name)
    # A relay that crashed between publishing and marking: every row is unpublished again, and sent again.
    async with running_worker.sessionmaker() as session, session.begin():
        await session.execute(update(OutboxMessage).values(published_at=None))
    relay = OutboxRelay(running_worker.sessionmaker, nats_client, own, SystemClock())
    assert await relay.drain() == 2
    assert (relay.stats.published, relay.stats.duplicates) == (2, 2)
    after = await stream_messages(js, own.name)
    assert message_ids(after) == message_ids(before) and len(after) == 2


def _acknowledge_link(mail: Any) -> str:
    """The first link of the mail's text: "Accuser réception" (render.ACTION_LABELS keeps that order)."""
    body = mail.message.get_body(("plain",)).get_content()
    return next(word for word in body.split() if "/actions/" in word and word.startswith("http"))


async def _count(js: Any, stream_name: str, expected: int) -> bool:
    return len(await stream_messages(js, stream_name)) >= expected
