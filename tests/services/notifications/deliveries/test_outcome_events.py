"""The events of delivery outcomes (SQLite and PostgreSQL): each outcome that ends a reminder's delivery writes
exactly one event into the service's outbox, in the transaction of the state change; a rolled-back outcome
leaves neither; an outcome fenced off (the row taken over) writes nothing; a digest tells each reminder it
carried; no event carries an address."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import repository, service
from services.notifications.deliveries.claims import Claim, Claims
from services.notifications.deliveries.digest import gather_digests
from services.notifications.deliveries.events import INVALID_ADDRESS, NO_RECIPIENT
from services.notifications.deliveries.models import Delivery, DeliveryKind, SenderWorker
from services.notifications.deliveries.outcomes import Attempt, Outcome, OutcomeRecorder, record_outcomes
from services.notifications.outbox.models import OutboxMessage
from services.notifications.smtp import SendResult
from shared.clock import FixedClock
from shared.db import create_engine, create_sessionmaker
from shared.events import Actor, EventEnvelope
from shared.events.commitments import DeadlineApproaching, DeadlineDue
from shared.events.notifications import DeliveryFailed, DeliverySent

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=120)
PLAN, ITEM, DEADLINE, PARTNER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def sessionmaker(notifications_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(notifications_database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        async with engine.begin() as connection:
            for table in (Delivery, SenderWorker, OutboxMessage):
                await connection.execute(delete(table))
        await engine.dispose()


def _reminder(step: str, approaching: bool = False) -> EventEnvelope:
    kind = DeadlineApproaching if approaching else DeadlineDue
    data = kind(
        reminder_key=f"{DEADLINE}:1:1:{step}",
        deadline_id=DEADLINE,
        item_id=ITEM,
        plan_id=PLAN,
        kind="response",
        due_on=date(2026, 3, 16),
        deadline_version=1,
        step=step,
        offset_working_days=-3 if approaching else 0,
        escalation="none",
        audience=["liaison"],
        partner_ids=[PARTNER],
        fire_at=NOW,
    )
    return EventEnvelope.wrap(data, NOW, Actor(kind="system"))


async def _add_reminders(
    sessionmaker: async_sessionmaker[AsyncSession],
    steps: list[str],
    held: bool = False,
    contact_id: uuid.UUID | None = None,
) -> dict[str, uuid.UUID]:
    """One reminder delivery per step (to one contact each unless `contact_id`); their ids by step."""
    rows = {}
    for step in steps:
        envelope = _reminder(step, approaching=held)
        rows[step] = service.new_row(
            event_id=envelope.id,
            contact_id=contact_id or uuid.uuid4(),
            kind=DeliveryKind.REMINDER,
            event_type=envelope.type,
            event=envelope.model_dump(mode="json"),
            item_id=ITEM,
            deadline_id=DEADLINE,
            partner_id=PARTNER,
            audience="liaison",
            held=held,
            now=NOW,
            domain="sceaux.example",
        )
    async with sessionmaker() as session, session.begin():
        await repository.insert_ignoring_duplicates(session, list(rows.values()))
    return {step: row["id"] for step, row in rows.items()}


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], clock: FixedClock, worker_id: str = "host/0"
) -> Claim:
    claim = await Claims(sessionmaker, clock, worker_id, LEASE, batch_size=100).claim()
    assert claim is not None
    return claim


async def _outbox(sessionmaker: async_sessionmaker[AsyncSession]) -> list[EventEnvelope]:
    async with sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.position))).all()
    return [EventEnvelope.model_validate_json(row.payload) for row in rows]


async def _statuses(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[uuid.UUID, str]:
    async with sessionmaker() as session:
        return {row.id: row.status for row in (await session.scalars(select(Delivery))).all()}


async def test_each_outcome_writes_its_one_event_with_its_state_change(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _add_reminders(
        sessionmaker, ["sent", "refused", "gave-up", "nobody", "bad-address", "retry", "stale"]
    )
    clock = FixedClock(NOW + timedelta(seconds=5))
    claim = await _claim(sessionmaker, clock)
    by_id = {row.id: row for row in claim.rows}
    attempts = {
        "sent": Attempt(SendResult.SENT, "250 OK"),
        "refused": Attempt(SendResult.PERMANENT, "550 5.1.1 <claire.martin@hsh.example>: boîte inconnue"),
        "gave-up": Attempt(SendResult.TEMPORARY, "451 4.3.0 Réessayez plus tard"),
        "nobody": Attempt(None, "plus de destinataire", reason=NO_RECIPIENT),
        "bad-address": Attempt(
            SendResult.PERMANENT, "message refusé avant envoi : adresse invalide", reason=INVALID_ADDRESS
        ),
        "retry": Attempt(SendResult.TEMPORARY, "451 4.3.0 Réessayez plus tard"),
        "stale": Attempt(None, "échéance tenue le 2026-03-03"),
    }
    settings = NotificationsSettings()
    async with sessionmaker() as session, session.begin():
        # "gave-up" was first tried long ago: its 451 ends the retries; "retry" is still within them.
        [gave_up] = await repository.by_ids(session, [ids["gave-up"]])
        gave_up.retry_since = NOW - timedelta(seconds=settings.retry_give_up_seconds + 1)
    async with sessionmaker() as session, session.begin():
        await record_outcomes(
            session,
            settings,
            clock,
            [Outcome(claim, by_id[ids[step]], attempt) for step, attempt in attempts.items()],
        )
    statuses = await _statuses(sessionmaker)
    assert {step: statuses[ids[step]] for step in attempts} == {
        "sent": "sent",
        "refused": "failed",
        "gave-up": "failed",
        "nobody": "cancelled",
        "bad-address": "failed",
        "retry": "pending",
        "stale": "cancelled",
    }
    events = await _outbox(sessionmaker)
    told = {uuid.UUID(event.data["delivery_id"]): event for event in events}
    assert (
        len(told) == len(events) == 5
    )  # one each; none for the retry nor for the reminder no longer current
    step_of = {delivery_id: step for step, delivery_id in ids.items()}
    assert {
        step_of[delivery_id]: (event.type, event.data["reason"], event.data.get("permanent"))
        for delivery_id, event in told.items()
    } == {
        "sent": ("delivery.sent", None, None),
        "refused": ("delivery.failed", "smtp-refused", True),
        "gave-up": ("delivery.failed", "smtp-gave-up", False),
        "nobody": ("delivery.failed", "no-recipient", True),
        "bad-address": ("delivery.failed", "invalid-address", True),
    }
    for event in events:
        parsed = event.parsed()
        assert isinstance(parsed, DeliverySent | DeliveryFailed)
        assert (
            parsed.item_id,
            parsed.plan_id,
            parsed.deadline_id,
            parsed.partner_id,
            parsed.channel,
            parsed.attempt,
        ) == (ITEM, PLAN, DEADLINE, PARTNER, "email", 1)
        assert parsed.reminder_key == f"{DEADLINE}:1:1:{step_of[parsed.delivery_id]}"
        assert parsed.contact_id == by_id[parsed.delivery_id].contact_id
        assert "@" not in event.model_dump_json()  # the 550's text named the address: not the event


async def test_a_rolled_back_outcome_leaves_neither_state_nor_event(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _add_reminders(sessionmaker, ["sent", "refused"])
    clock = FixedClock(NOW + timedelta(seconds=5))
    claim = await _claim(sessionmaker, clock)
    outcomes = [
        Outcome(claim, claim.rows[0], Attempt(SendResult.SENT, "250 OK")),
        Outcome(claim, claim.rows[1], Attempt(SendResult.PERMANENT, "550 5.1.1 inconnu")),
    ]

    class Crash(Exception):
        pass

    with pytest.raises(Crash):
        async with sessionmaker() as session, session.begin():
            await record_outcomes(session, NotificationsSettings(), clock, outcomes)
            raise Crash  # the commit never happens (the process died, the database went away …)
    assert set((await _statuses(sessionmaker)).values()) == {"pending"} and await _outbox(sessionmaker) == []
    # Recorded again (the claim still holds): both the states and their events, once.
    await OutcomeRecorder(sessionmaker, NotificationsSettings(), clock, lambda: None).record(
        claim, claim.rows[0], outcomes[0].attempt
    )
    await OutcomeRecorder(sessionmaker, NotificationsSettings(), clock, lambda: None).record(
        claim, claim.rows[1], outcomes[1].attempt
    )
    assert sorted((await _statuses(sessionmaker)).values()) == ["failed", "sent"]
    assert sorted(event.type for event in await _outbox(sessionmaker)) == ["delivery.failed", "delivery.sent"]
    assert {uuid.UUID(event.data["delivery_id"]) for event in await _outbox(sessionmaker)} == set(
        ids.values()
    )


async def test_an_outcome_fenced_off_writes_no_event(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await _add_reminders(sessionmaker, ["a", "b"])
    clock = FixedClock(NOW + timedelta(seconds=5))
    stale_claim = await _claim(sessionmaker, clock, "host/0")
    clock.advance(LEASE + timedelta(seconds=1))  # host/0 never came back: host/1 takes the rows over
    await _claim(sessionmaker, clock, "host/1")
    recorder = OutcomeRecorder(sessionmaker, NotificationsSettings(), clock, lambda: None)
    for row, result in zip(stale_claim.rows, (SendResult.SENT, SendResult.PERMANENT), strict=True):
        await recorder.record(
            stale_claim, row, Attempt(result, "250 OK" if result is SendResult.SENT else "550")
        )
    assert set((await _statuses(sessionmaker)).values()) == {"pending"}
    assert await _outbox(sessionmaker) == []


async def test_a_digest_tells_each_reminder_it_carried(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    contact = uuid.uuid4()
    ids = await _add_reminders(sessionmaker, ["j-5", "j-3", "j-1"], held=True, contact_id=contact)
    clock = FixedClock(datetime(2026, 3, 9, 8, 0, tzinfo=UTC))  # Monday, after the 08:30 Paris digest slot
    async with sessionmaker() as session, session.begin():
        assert await gather_digests(session, clock, 0, "08:30", "sceaux.example") == 1
    claim = await _claim(sessionmaker, clock)
    [digest] = claim.rows
    assert digest.kind == DeliveryKind.DIGEST and len(claim.digest_parts[digest.id]) == 3
    # One reminder was no longer current when the digest was written: dropped from it, and not told as sent.
    await OutcomeRecorder(sessionmaker, NotificationsSettings(), clock, lambda: None).record(
        claim, digest, Attempt(SendResult.SENT, "250 OK", cancelled_parts={ids["j-1"]: "échéance tenue"})
    )
    events = await _outbox(sessionmaker)
    assert sorted((event.type, event.data["delivery_id"]) for event in events) == sorted(
        ("delivery.sent", str(ids[step])) for step in ("j-5", "j-3")
    )
    assert {event.data["contact_id"] for event in events} == {str(contact)}
    assert {event.data["reminder_key"] for event in events} == {f"{DEADLINE}:1:1:j-5", f"{DEADLINE}:1:1:j-3"}
