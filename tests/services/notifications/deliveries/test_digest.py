"""The weekly digest with a real SMTP server and the commitments service over HTTP: a reminder turning up
after its slot's digest went out goes in a follow-up digest, and an "approaching" reminder whose digest
would come too late goes at once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from services.notifications.config import NotificationsSettings
from services.notifications.consumer import worker
from services.notifications.deliveries import service
from services.notifications.deliveries.digest import digest_event_id, latest_slot
from services.notifications.deliveries.models import Delivery
from services.notifications.preferences.models import ContactPreference
from services.notifications.recipients import ReminderContext
from shared.clock import FixedClock
from tests.services.notifications.world import World, reminder_event
from tests.smtp_sink import SinkHandler

MONDAY_2 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # after that Monday's slot (08:30 Paris)
MONDAY_9 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # after the next one


async def _weekly(sessionmaker: Any, contact_id: str) -> None:
    async with sessionmaker() as session, session.begin():
        session.add(
            ContactPreference(
                contact_id=uuid.UUID(contact_id), approaching="weekly_digest", updated_at=MONDAY_2
            )
        )


async def _record(
    running_worker: Any, world: World, context: ReminderContext, step: str, next_digest_on: date | None
) -> None:
    envelope = reminder_event(world, "approaching", step=step, audience=("liaison",))
    async with running_worker.sessionmaker() as session, session.begin():
        await service.record_reminder(
            session,
            FixedClock(MONDAY_2),
            "sceaux.example",
            envelope,
            envelope.parsed(),
            context,
            next_digest_on,
        )


async def test_a_reminder_held_after_its_digest_went_goes_in_a_follow_up(
    notifications_settings: NotificationsSettings, world: World, sink: tuple[Any, SinkHandler]
) -> None:
    _, handler = sink
    liaison = world.emails["liaison"]
    clock = FixedClock(MONDAY_9)
    async with worker(notifications_settings, clock) as running_worker:
        await _weekly(running_worker.sessionmaker, world.ids["liaison"])
        context = await running_worker.sender.commitments.reminder_context(
            uuid.UUID(world.ids["item"]), uuid.UUID(world.ids["item_deadline"]), ["liaison"]
        )
        assert context is not None
        await _record(running_worker, world, context, "j-10", None)
        assert await running_worker.digest_pass() == 1
        assert await running_worker.sender.send_due() == 1
        assert len(handler.mails_to(liaison)) == 1
        # A reminder of the same week shows up only now (a consumer that committed late).
        await _record(running_worker, world, context, "j-3", None)
        assert await running_worker.digest_pass() == 1
        assert await running_worker.sender.send_due() == 1
        async with running_worker.sessionmaker() as session:
            rows = list(
                (await session.scalars(select(Delivery).order_by(Delivery.created_at, Delivery.id))).all()
            )
    digests = {row.event_id: row for row in rows if row.kind == "digest"}
    slot = latest_slot(MONDAY_9, 0, "08:30")
    first, follow_up = (
        digests[digest_event_id(uuid.UUID(world.ids["liaison"]), slot)],
        digests[digest_event_id(uuid.UUID(world.ids["liaison"]), slot, 1)],
    )
    assert (first.status, follow_up.status) == ("sent", "sent")
    parts = sorted(
        (row.event["data"]["step"], row.status, row.digest_id) for row in rows if row.kind == "reminder"
    )
    assert parts == [("j-10", "digested", first.id), ("j-3", "digested", follow_up.id)]
    mails = handler.mails_to(liaison)
    assert len(mails) == 2 and mails[0].message_id != mails[1].message_id


async def test_an_approaching_reminder_goes_at_once_when_the_digest_would_be_too_late(
    notifications_settings: NotificationsSettings, world: World, sink: tuple[Any, SinkHandler]
) -> None:
    async with worker(notifications_settings, FixedClock(MONDAY_2)) as running_worker:
        await _weekly(running_worker.sessionmaker, world.ids["liaison"])
        context = await running_worker.sender.commitments.reminder_context(
            uuid.UUID(world.ids["item"]), uuid.UUID(world.ids["item_deadline"]), ["liaison"]
        )
        assert context is not None and context.deadline is not None
        assert context.deadline.due_on == date(2026, 3, 16)
        await _record(
            running_worker, world, context, "j-10", date(2026, 3, 9)
        )  # the digest comes first: held
        await _record(
            running_worker, world, context, "j-3", date(2026, 3, 16)
        )  # due the day of the digest: now
        async with running_worker.sessionmaker() as session:
            rows = list((await session.scalars(select(Delivery))).all())
    assert sorted((row.event["data"]["step"], row.status) for row in rows) == [
        ("j-10", "held"),
        ("j-3", "pending"),
    ]
