"""The projector applies each stream strictly in sequence order, even when JetStream delivers it out of order: a
projector killed holding a batch leaves it pending until the ack wait ends, and meanwhile the durable consumer
delivers the next messages to the restarted one. Those wait (handed back) until the missing ones come again;
applied first, they would push the tables' position past the missing ones, which would then be skipped as
« already in » (a reminder sent missing from reporting, an item left « draft »)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date

import nats
import pytest
from sqlalchemy import func, select

from services.reporting.projection.models import Delivery, Item
from services.reporting.projection.projector import StreamProjector, sources
from shared.bus import StreamSpec
from shared.db import create_engine, create_sessionmaker
from shared.events import commitments as ev
from tests.services.reporting.conftest import reporting_settings
from tests.services.reporting.running_projector import projector_running, wait_caught_up
from tests.services.reporting.scripted_events import Script, publish_all

NewDatabase = Callable[..., Awaitable[str]]
DAY = date(2026, 3, 2)


def _items(
    script: Script, plan: uuid.UUID, objective: uuid.UUID, partner: uuid.UUID, count: int
) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    for n, item in enumerate(ids):
        script.emit(
            ev.ItemCreated(
                item_id=item,
                plan_id=plan,
                objective_id=objective,
                kind="request",
                title=f"Demande {n}",
                status="draft",
                lead_partner_id=partner,
                associated_partner_ids=[],
                tags=[],
                needs_review=False,
            ),
            DAY,
        )
    return ids


def _sent(script: Script, item: uuid.UUID, plan: uuid.UUID, partner: uuid.UUID) -> None:
    script.notify(
        "delivery.sent",
        DAY,
        delivery_id=uuid.uuid4(),
        reminder_key=f"{uuid.uuid4()}:1:1:approaching",
        item_id=item,
        plan_id=plan,
        deadline_id=None,
        partner_id=partner,
        contact_id=uuid.uuid4(),
        channel="email",
        attempt=1,
        reason=None,
    )


@pytest.mark.parametrize("stream", ["commitments", "notifications"])
async def test_a_batch_left_by_a_killed_projector_is_applied_before_what_follows_it(
    new_reporting_database: NewDatabase, nats_url: str, streams: tuple[StreamSpec, StreamSpec], stream: str
) -> None:
    settings = reporting_settings(
        await new_reporting_database(),
        nats_url,
        streams,
        projector_batch_size=10,
        projector_ack_wait_seconds=2,
    )
    source = next(source for source in sources(settings) if source.name == stream)
    plan, objective, partner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # `first` is published before the kill; the dying projector holds its events of the stream under test
    # (the items' creations, or a reminder of each sent). `then` follows: the items sent, more reminders.
    first, then = Script(), Script()
    items = _items(first, plan, objective, partner, 3)
    for item in items:
        then.emit(ev.ItemStatusChanged(item_id=item, from_status="draft", to_status="sent", on=DAY), DAY)
        _sent(first if stream == "notifications" else then, item, plan, partner)
    for item in items:
        _sent(then, item, plan, partner)
    held = first.commitments if stream == "commitments" else first.notifications
    assert 0 < len(held) < settings.projector_batch_size  # a batch smaller than max_ack_pending

    client = await nats.connect(nats_url)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        js = client.jetstream()
        await publish_all(js, streams[0], first.commitments)
        await publish_all(js, streams[1], first.notifications)
        # The projector that dies: delivered its batch, never acknowledges it (its connection goes).
        dying = await nats.connect(nats_url)
        killed = StreamProjector(create_sessionmaker(engine), dying.jetstream(), source, settings)
        await killed.subscribe()
        assert killed.subscription is not None
        delivered = await killed.subscription.fetch(settings.projector_batch_size, timeout=5)
        assert len(delivered) == len(held)
        await dying.close()

        await publish_all(js, streams[0], then.commitments)
        await publish_all(js, streams[1], then.notifications)
        async with projector_running(settings, client):
            await wait_caught_up(settings.database_url, client, streams)
    finally:
        await client.drain()
    async with create_sessionmaker(engine)() as session:
        statuses = list(await session.scalars(select(Item.status).order_by(Item.status)))
        sent = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.sent_on.is_not(None))
        )
    await engine.dispose()
    assert statuses == ["sent"] * len(items)
    assert sent == len(first.notifications) + len(then.notifications)


async def test_a_gap_the_stream_itself_has_is_stepped_over(
    new_reporting_database: NewDatabase, nats_url: str, streams: tuple[StreamSpec, StreamSpec]
) -> None:
    """A message deleted from the stream will never come: the projector goes on past it rather than wait."""
    settings = reporting_settings(await new_reporting_database(), nats_url, streams)
    plan, objective, partner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    script = Script()
    items = _items(script, plan, objective, partner, 3)
    client = await nats.connect(nats_url)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        js = client.jetstream()
        await publish_all(js, streams[0], script.commitments)
        await js.delete_msg(streams[0].name, 2)
        async with projector_running(settings, client):
            await wait_caught_up(settings.database_url, client, streams)
        async with create_sessionmaker(engine)() as session:
            projected = set(await session.scalars(select(Item.id)))
    finally:
        await client.drain()
        await engine.dispose()
    assert projected == {items[0], items[2]}
