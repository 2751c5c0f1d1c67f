"""The sender against a real SMTP server and the commitments service over HTTP: reminders no longer current
are cancelled rather than mailed, outcomes are fenced by the claim, action links go only to the partner's
people, refused addresses are reported, the installation's calendar is used."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nats.aio.client import Client as NatsClient
from sqlalchemy import select, update

from services.commitments.contacts.models import Contact
from services.notifications.config import NotificationsSettings
from services.notifications.consumer import worker
from services.notifications.deliveries import service
from services.notifications.deliveries.models import Delivery
from services.notifications.deliveries.outcomes import Attempt
from services.notifications.deliveries.sender import DeliverySender
from services.notifications.smtp import SendResult, SmtpPool
from shared.bus import StreamSpec, ensure_stream
from shared.calendar import default_calendar, use_calendar
from shared.clock import FixedClock, SystemClock
from tests.responses import ok
from tests.services.notifications.running_worker import (
    deliveries,
    have_statuses,
    running,
)
from tests.services.notifications.served_commitments import Commitments
from tests.services.notifications.world import World, publish, reminder_event
from tests.smtp_sink import SinkHandler
from tests.waiting import wait_until


def _body(mail: Any) -> str:
    return mail.message.get_body(("plain",)).get_content()  # type: ignore[no-any-return]


async def _all_cancelled(running_worker: Any, count: int) -> bool:
    rows = await deliveries(running_worker)
    return len(rows) == count and {row.status for row in rows} == {"cancelled"}


async def test_a_renegotiated_deadline_cancels_the_old_reminder(
    notifications_settings: NotificationsSettings,
    commitments: Commitments,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    async with commitments.client(commitments.admin_secret) as admin:
        ok(
            await admin.patch(
                f"/v1/deadlines/{world.ids['item_deadline']}",
                json={"due_on": "2026-03-30", "reason": "Conseil d'administration reporté."},
            )
        )
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "due"))  # about version 1, the 16 March
    async with running(notifications_settings) as running_worker:
        await wait_until(lambda: _all_cancelled(running_worker, 2), "both deliveries cancelled")
        rows = await deliveries(running_worker)
    assert handler.all() == []
    assert all(
        "version 1 → 2" in (row.last_error or "") and "2026-03-30" in (row.last_error or "") for row in rows
    )


async def test_an_answer_cancels_a_reminder_waiting_for_its_retry(
    notifications_settings: NotificationsSettings,
    commitments: Commitments,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    handler.temporary_failures[world.emails["liaison"]] = 10**6  # 451 until the end of the test
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "overdue", audience=("liaison",)))
    async with running(notifications_settings) as running_worker:
        await wait_until(lambda: handler.refusals, "a first 451")
        async with commitments.client(commitments.admin_secret) as admin:
            ok(await admin.post(f"/v1/items/{world.ids['item']}/transitions", json={"to": "accepted"}))
        await wait_until(lambda: _all_cancelled(running_worker, 1), "the retried delivery cancelled")
        [row] = await deliveries(running_worker)
    assert handler.all() == []
    assert row.last_error is not None and row.last_error.startswith("échéance tenue le")


async def test_the_city_owner_gets_no_action_links(
    notifications_settings: NotificationsSettings,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "escalated", audience=("liaison", "city_owner")))
    async with running(notifications_settings):
        await wait_until(lambda: len(handler.all()) == 2, "the liaison's and the owner's mails")
    [liaison] = handler.mails_to(world.emails["liaison"])
    [owner] = handler.mails_to(world.emails["owner"])
    assert "http://notifications.test/actions/" in _body(liaison)
    owner_text = _body(owner)
    assert "/actions/" not in owner_text and "Pour répondre en un clic" not in owner_text
    assert "/actions/" not in owner.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Rénovation du centre commercial" in owner_text  # the rest of the mail is there


async def test_an_address_refused_before_sending_is_reported_to_the_city_owner(
    notifications_settings: NotificationsSettings,
    commitments: Commitments,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    # Legacy data the commitments API would refuse today: a space in the address.
    async with commitments.app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Contact)
            .where(Contact.id == uuid.UUID(world.ids["liaison"]))
            .values(email="claire martin@hsh.example")
        )
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "overdue", audience=("liaison",)))
    async with running(notifications_settings) as running_worker:
        await wait_until(
            lambda: handler.mails_to(world.emails["owner"]), "the failure report to the city owner"
        )
        # The server has the report; its outcome is committed a moment later.
        await wait_until(lambda: have_statuses(running_worker, {"failed", "sent"}), "every outcome recorded")
        rows = await deliveries(running_worker)
    failed = next(row for row in rows if row.kind == "reminder")
    assert failed.status == "failed" and (failed.last_error or "").startswith("message refusé avant envoi")
    report = next(row for row in rows if row.kind == "failure_report")
    assert (report.status, report.related_delivery_id) == ("sent", failed.id)
    assert [mail.to for mail in handler.all()] == [world.emails["owner"]]


async def test_a_late_outcome_does_not_overwrite_what_another_sender_recorded(
    notifications_settings: NotificationsSettings,
    commitments: Commitments,
    world: World,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    start = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    lease = timedelta(seconds=notifications_settings.sender_lease_seconds)
    async with worker(notifications_settings, FixedClock(start)) as running_worker:
        client = running_worker.sender.commitments
        envelope = reminder_event(world, "overdue", audience=("liaison",))
        event = envelope.parsed()
        context = await client.reminder_context(event.item_id, event.deadline_id, ["liaison", "city_owner"])
        assert context is not None
        async with running_worker.sessionmaker() as session, session.begin():
            await service.record_reminder(
                session, FixedClock(start), "sceaux.example", envelope, event, context
            )
        slow = running_worker.sender
        claim = await slow.claims.claim()
        assert claim is not None and len(claim.rows) == 1
        # The slow sender's lease lapses; another replica takes the row over and sends it.
        smtp = SmtpPool(notifications_settings)
        try:
            other = DeliverySender(
                running_worker.sessionmaker,
                notifications_settings,
                FixedClock(start + lease + timedelta(seconds=1)),
                client,
                smtp,
                "other-replica",
            )
            assert await other.send_due() == 1
        finally:
            await smtp.close()
        # Then the slow one's late 5xx comes back: it must change nothing, and report nothing.
        owner = next(r for r in context.recipients if r.audience == "city_owner")
        await slow.recorder.record(
            claim, claim.rows[0], Attempt(SendResult.PERMANENT, "550 trop tard", [owner])
        )
        async with running_worker.sessionmaker() as session:
            rows = list((await session.scalars(select(Delivery))).all())
    assert [(row.kind, row.status, row.attempts, row.last_error) for row in rows] == [
        ("reminder", "sent", 2, None)
    ]
    assert [mail.to for mail in handler.all()] == [world.emails["liaison"]]


async def test_the_worker_uses_the_installations_calendar(
    notifications_settings: NotificationsSettings,
) -> None:
    before = default_calendar()
    settings = notifications_settings.model_copy(update={"calendar_alsace_moselle": True})
    try:
        async with worker(settings, SystemClock()) as running_worker:
            # 26 December: a holiday in Alsace-Moselle only.
            assert not running_worker.sender.calendar.is_working_day(date(2025, 12, 26))
            assert before.is_working_day(date(2025, 12, 26))
    finally:
        use_calendar(before)
