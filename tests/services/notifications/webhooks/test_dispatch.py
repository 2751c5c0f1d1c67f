"""The dispatcher against a real HTTP receiver: signed POSTs, retries with backoff, disabling, SSRF at send time."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from services.notifications.outbox.models import OutboxMessage
from services.notifications.webhooks import service
from services.notifications.webhooks.dispatcher import WebhookDispatcher
from services.notifications.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from services.notifications.webhooks.schemas import WebhookCreate
from services.notifications.webhooks.service import RetryPolicy
from services.notifications.webhooks.ssrf import TargetPolicy
from shared.clock import FixedClock
from shared.events.commitments import DeadlineOverdue
from shared.events.envelope import Actor, EventEnvelope
from shared.events.notifications import DeliveryFailed, DeliverySent
from tests.services.notifications.webhooks.conftest import Receiver

LOCAL = TargetPolicy(allow_http=True, allow_private=True)
ADMIN = Actor(kind="api_key", id=str(uuid.uuid4()), role="admin")
FAST = RetryPolicy(
    max_attempts=4,
    initial_seconds=1,
    multiplier=2,
    max_interval_seconds=8,
    jitter=0.1,
    disable_after_failures=2,
)


async def subscribe(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    url: str,
    event_types: list[str] | None = None,
) -> WebhookSubscription:
    async with sessionmaker() as session, session.begin():
        return await service.create_subscription(
            session, ADMIN, clock, LOCAL, WebhookCreate(url=url, event_types=event_types or ["*"])
        )


def envelope(clock: FixedClock, event_type: str = "deadline.overdue") -> EventEnvelope:
    return EventEnvelope(
        type=event_type,
        version=1,
        occurred_at=clock.now(),
        actor=Actor(kind="system"),
        data={"item_id": str(uuid.uuid4()), "deadline_id": str(uuid.uuid4())},
    )


async def record(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FixedClock, event: EventEnvelope
) -> int:
    async with sessionmaker() as session, session.begin():
        return await service.record_event(session, clock, event)


async def deliveries(sessionmaker: async_sessionmaker[AsyncSession]) -> list[WebhookDelivery]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))).all())


async def attempts(sessionmaker: async_sessionmaker[AsyncSession]) -> list[WebhookAttempt]:
    async with sessionmaker() as session:
        query = select(WebhookAttempt).order_by(WebhookAttempt.attempted_at, WebhookAttempt.number)
        return list((await session.scalars(query)).all())


async def subscription(
    sessionmaker: async_sessionmaker[AsyncSession], subscription_id: uuid.UUID
) -> WebhookSubscription:
    async with sessionmaker() as session:
        found = await session.get(WebhookSubscription, subscription_id)
        assert found is not None
        return found


def dispatcher(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    target_policy: TargetPolicy = LOCAL,
    policy: RetryPolicy = FAST,
) -> WebhookDispatcher:
    return WebhookDispatcher(
        sessionmaker, clock, policy=policy, target_policy=target_policy, timeout_seconds=5
    )


async def test_an_event_is_posted_signed_and_verifies_with_the_reference_package(
    sessionmaker, clock, receiver
):
    hook = await subscribe(sessionmaker, clock, receiver.url(), ["deadline.overdue"])
    event = envelope(clock)
    assert await record(sessionmaker, clock, event) == 1
    assert await dispatcher(sessionmaker, clock).dispatch_due() == 1

    [received] = receiver.requests
    assert received.path == "/hook"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["webhook-id"] == str(event.id)
    assert received.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    payload = Webhook(hook.secret).verify(received.body, received.headers)
    assert payload == json.loads(event.model_dump_json())
    [delivery] = await deliveries(sessionmaker)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 204)


async def test_only_subscriptions_that_name_the_type_or_star_get_the_event(sessionmaker, clock, receiver):
    await subscribe(sessionmaker, clock, receiver.url("/overdue"), ["deadline.overdue"])
    await subscribe(sessionmaker, clock, receiver.url("/all"), ["*"])
    await subscribe(sessionmaker, clock, receiver.url("/items"), ["item.created"])
    assert await record(sessionmaker, clock, envelope(clock, "deadline.due")) == 1
    assert await record(sessionmaker, clock, envelope(clock, "deadline.overdue")) == 2
    await dispatcher(sessionmaker, clock).dispatch_due()
    assert sorted(r.path for r in receiver.requests) == ["/all", "/all", "/overdue"]


async def test_an_event_older_than_the_subscription_is_not_sent(sessionmaker, clock, receiver):
    earlier = envelope(clock)
    clock.advance(timedelta(seconds=1))
    await subscribe(sessionmaker, clock, receiver.url())
    assert await record(sessionmaker, clock, earlier) == 0


async def test_recording_the_same_event_twice_sends_it_once(sessionmaker, clock, receiver):
    await subscribe(sessionmaker, clock, receiver.url())
    event = envelope(clock)
    assert await record(sessionmaker, clock, event) == 1
    assert await record(sessionmaker, clock, event) == 0
    await dispatcher(sessionmaker, clock).dispatch_due()
    await record(sessionmaker, clock, event)
    await dispatcher(sessionmaker, clock).dispatch_due()
    assert len(receiver.requests) == 1


async def test_a_500_is_retried_with_backoff_under_the_same_id_then_succeeds(sessionmaker, clock, receiver):
    hook = await subscribe(sessionmaker, clock, receiver.url())
    event = envelope(clock)
    await record(sessionmaker, clock, event)
    receiver.answer(500, 503)
    send = dispatcher(sessionmaker, clock)

    assert await send.dispatch_due() == 1
    [delivery] = await deliveries(sessionmaker)
    first_wait = delivery.next_attempt_at - clock.now()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert timedelta(seconds=0.9) <= first_wait <= timedelta(seconds=1)
    assert await send.dispatch_due() == 0  # not due yet: nothing goes out early

    clock.advance(first_wait)
    assert await send.dispatch_due() == 1
    [delivery] = await deliveries(sessionmaker)
    second_wait = delivery.next_attempt_at - clock.now()
    assert (delivery.attempts, delivery.last_status_code) == (2, 503)
    assert timedelta(seconds=1.8) <= second_wait <= timedelta(seconds=2)  # doubled

    clock.advance(second_wait)
    assert await send.dispatch_due() == 1
    [delivery] = await deliveries(sessionmaker)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 204)
    assert [a.status_code for a in await attempts(sessionmaker)] == [500, 503, 204]
    assert {r.headers["webhook-id"] for r in receiver.requests} == {str(event.id)}
    # Each attempt is signed anew with its own timestamp; every one verifies.
    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.requests]
    assert stamps == sorted(stamps) and stamps[-1] > stamps[0]
    for received in receiver.requests:
        Webhook(hook.secret).verify(received.body, received.headers)
    assert (await subscription(sessionmaker, hook.id)).consecutive_failures == 0


async def test_repeated_failure_fails_deliveries_then_disables_the_subscription(
    sessionmaker, clock, receiver
):
    hook = await subscribe(sessionmaker, clock, receiver.url())
    receiver.answer(*[500] * 20)
    send = dispatcher(sessionmaker, clock)
    await record(sessionmaker, clock, envelope(clock))
    for _ in range(FAST.max_attempts):
        await send.dispatch_due()
        clock.advance(timedelta(seconds=FAST.max_interval_seconds))
    [first] = await deliveries(sessionmaker)
    assert (first.status, first.attempts) == ("failed", FAST.max_attempts)
    after_one = await subscription(sessionmaker, hook.id)
    assert (after_one.enabled, after_one.consecutive_failures) == (True, 1)

    await record(sessionmaker, clock, envelope(clock))
    for _ in range(FAST.max_attempts):
        await send.dispatch_due()
        clock.advance(timedelta(seconds=FAST.max_interval_seconds))
    disabled = await subscription(sessionmaker, hook.id)
    assert disabled.enabled is False
    assert disabled.consecutive_failures == FAST.disable_after_failures
    assert "2 livraisons consécutives en échec" in disabled.disabled_reason
    assert "HTTP 500" in disabled.disabled_reason
    assert len(receiver.requests) == 2 * FAST.max_attempts

    # Disabled: new events are not even queued, and nothing more goes out.
    assert await record(sessionmaker, clock, envelope(clock)) == 0
    assert await send.dispatch_due() == 0
    assert len(receiver.requests) == 2 * FAST.max_attempts


async def test_410_gone_disables_at_once_and_abandons_what_was_waiting(sessionmaker, clock, receiver):
    hook = await subscribe(sessionmaker, clock, receiver.url())
    await record(sessionmaker, clock, envelope(clock))
    receiver.answer(410)
    send = dispatcher(sessionmaker, clock)
    assert await send.dispatch_due() == 1
    disabled = await subscription(sessionmaker, hook.id)
    assert disabled.enabled is False
    assert "410" in disabled.disabled_reason
    [delivery] = await deliveries(sessionmaker)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 410)
    clock.advance(timedelta(hours=1))
    assert await send.dispatch_due() == 0
    assert len(receiver.requests) == 1


async def test_a_subscription_disabled_with_deliveries_waiting_abandons_them(sessionmaker, clock, receiver):
    first = await subscribe(sessionmaker, clock, receiver.url("/gone"))
    await record(sessionmaker, clock, envelope(clock))
    receiver.answer(410)
    await dispatcher(sessionmaker, clock).dispatch_due()
    # A retry that was pending when 410 came would be abandoned too: check with a pending one queued by hand.
    async with sessionmaker() as session, session.begin():
        hook = await session.get(WebhookSubscription, first.id)
        assert hook is not None and hook.enabled is False
        hook.enabled = True
    await record(sessionmaker, clock, envelope(clock))
    await record(sessionmaker, clock, envelope(clock))
    receiver.answer(410)
    send = dispatcher(sessionmaker, clock)
    send.concurrency = 1
    send.batch_size = 1
    await send.dispatch_due()
    statuses = sorted(d.status for d in await deliveries(sessionmaker))
    assert statuses == ["failed", "failed", "failed"]
    assert len(receiver.requests) == 2  # the third never went out


async def test_redirects_are_not_followed(sessionmaker, clock, receiver):
    await subscribe(sessionmaker, clock, receiver.url("/moved"))
    await record(sessionmaker, clock, envelope(clock))
    receiver.answer(307)
    await dispatcher(sessionmaker, clock).dispatch_due()
    assert [r.path for r in receiver.requests] == ["/moved"]
    [delivery] = await deliveries(sessionmaker)
    assert (delivery.status, delivery.last_status_code) == ("pending", 307)
    assert "Redirection non suivie" in delivery.last_error


async def test_a_target_refused_at_send_time_is_not_contacted(sessionmaker, clock, receiver):
    # Accepted while private targets were allowed (or resolved to a public address back then, as after a DNS
    # change): the check before each send refuses it.
    await subscribe(sessionmaker, clock, receiver.url())
    await record(sessionmaker, clock, envelope(clock))
    strict = dispatcher(sessionmaker, clock, target_policy=TargetPolicy(allow_http=True))
    assert await strict.dispatch_due() == 1
    assert receiver.requests == []
    [delivery] = await deliveries(sessionmaker)
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "protection SSRF" in delivery.last_error and "127.0.0.1" in delivery.last_error
    [attempt] = await attempts(sessionmaker)
    assert attempt.status_code is None and "protection SSRF" in attempt.error


async def test_an_unreachable_endpoint_is_an_attempt_with_an_error(sessionmaker, clock, receiver):
    from tests.services.notifications.webhooks.conftest import free_port

    await subscribe(sessionmaker, clock, f"http://127.0.0.1:{free_port()}/closed")
    await record(sessionmaker, clock, envelope(clock))
    await dispatcher(sessionmaker, clock).dispatch_due()
    [attempt] = await attempts(sessionmaker)
    assert attempt.status_code is None and attempt.error.startswith("Échec de la connexion")


async def test_after_a_rotation_both_secrets_verify_until_the_grace_period_ends(
    sessionmaker, clock, receiver: Receiver
):
    hook = await subscribe(sessionmaker, clock, receiver.url())
    old_secret = hook.secret
    async with sessionmaker() as session, session.begin():
        rotated = await service.rotate_secret(
            session, clock, RetryPolicy(rotation_grace_seconds=60), await service.get(session, hook.id)
        )
        new_secret = rotated.secret
    assert new_secret != old_secret
    await record(sessionmaker, clock, envelope(clock))
    await dispatcher(sessionmaker, clock).dispatch_due()
    clock.advance(timedelta(seconds=61))
    await record(sessionmaker, clock, envelope(clock))
    await dispatcher(sessionmaker, clock).dispatch_due()
    during, after = receiver.requests
    Webhook(new_secret).verify(during.body, during.headers)
    Webhook(old_secret).verify(during.body, during.headers)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(after.body, after.headers)


async def test_the_lease_covers_a_whole_batch_and_a_late_result_changes_nothing(
    sessionmaker, clock, receiver
):
    await subscribe(sessionmaker, clock, receiver.url())
    await record(sessionmaker, clock, envelope(clock))
    slow = WebhookDispatcher(
        sessionmaker,
        clock,
        policy=FAST,
        target_policy=LOCAL,
        timeout_seconds=10,
        batch_size=50,
        concurrency=10,
    )
    # Five rounds of ten POSTs, each up to twice the timeout: the claim outlasts them all.
    assert slow.lease >= timedelta(seconds=5 * 2 * 10)
    [claimed] = await slow.claim()
    [delivery] = await deliveries(sessionmaker)
    assert delivery.next_attempt_at == clock.now() + slow.lease
    # The slow dispatcher's claim lapses; another takes the delivery over and it succeeds.
    later = FixedClock(clock.now() + slow.lease + timedelta(seconds=1))
    assert await dispatcher(sessionmaker, later).dispatch_due() == 1
    # Then the slow one's 500 comes back: recorded nowhere, the success stands.
    assert not await slow.record(claimed, service.AttemptResult(status_code=500, duration_ms=10_000))
    [delivery] = await deliveries(sessionmaker)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 204)
    assert [a.status_code for a in await attempts(sessionmaker)] == [204]


def reminder(clock: FixedClock, partner_id: uuid.UUID) -> EventEnvelope:
    """A `deadline.overdue` reminder as the scanner emits it (a reminder key, one partner)."""
    deadline, item = uuid.uuid4(), uuid.uuid4()
    return EventEnvelope.wrap(
        DeadlineOverdue(
            reminder_key=f"{deadline}:1:1:j+1",
            deadline_id=deadline,
            item_id=item,
            plan_id=uuid.uuid4(),
            kind="response",
            due_on=date(2026, 3, 16),
            deadline_version=1,
            step="j+1",
            offset_working_days=1,
            escalation="none",
            audience=["liaison"],
            partner_ids=[partner_id],
            fire_at=clock.now(),
        ),
        clock.now(),
        Actor(kind="system"),
    )


async def outbox_events(sessionmaker: async_sessionmaker[AsyncSession]) -> list[EventEnvelope]:
    async with sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.position))).all()
    return [EventEnvelope.model_validate_json(row.payload) for row in rows]


async def test_a_reminder_delivered_to_a_webhook_is_told_once_settled(sessionmaker, clock, receiver):
    await subscribe(sessionmaker, clock, receiver.url(), ["deadline.overdue", "item.created"])
    partner = uuid.uuid4()
    event = reminder(clock, partner)
    await record(sessionmaker, clock, event)
    await record(sessionmaker, clock, envelope(clock, "item.created"))  # not a reminder: nothing told
    receiver.answer(500, 500)  # both POSTs fail, whichever goes first
    send = dispatcher(sessionmaker, clock)
    await send.dispatch_due()
    assert await outbox_events(sessionmaker) == []  # a retry is coming: nothing settled, nothing told
    clock.advance(timedelta(seconds=10))
    await send.dispatch_due()
    [told] = await outbox_events(sessionmaker)
    [delivery] = [d for d in await deliveries(sessionmaker) if d.event_type == "deadline.overdue"]
    parsed = told.parsed()
    assert isinstance(parsed, DeliverySent)
    assert (parsed.delivery_id, parsed.channel, parsed.contact_id, parsed.partner_id, parsed.attempt) == (
        delivery.id,
        "webhook",
        None,
        partner,
        2,
    )
    assert parsed.reminder_key == event.data["reminder_key"] and parsed.item_id == uuid.UUID(
        event.data["item_id"]
    )


async def test_a_reminder_a_webhook_refuses_for_good_is_told_failed(sessionmaker, clock, receiver):
    await subscribe(sessionmaker, clock, receiver.url(), ["deadline.overdue"])
    await record(sessionmaker, clock, reminder(clock, uuid.uuid4()))
    receiver.answer(410)  # Gone: never again
    await dispatcher(sessionmaker, clock).dispatch_due()
    [told] = await outbox_events(sessionmaker)
    parsed = told.parsed()
    assert isinstance(parsed, DeliveryFailed)
    assert (parsed.channel, parsed.reason, parsed.permanent) == ("webhook", "webhook-refused", True)
