"""The deadline scanner over a simulated month, tick by tick: the expected steps at the expected instants, to
the expected audiences, published once; stopped by an answer; re-armed by a new date; escalation reset by a
response; only the latest missed step after a long stop; two scanners in parallel send nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import sqlalchemy
from fastapi import FastAPI
from sqlalchemy import delete, func, select, text, update

from services.commitments.database import outbox_aware_sessionmaker
from services.commitments.items.models import Item
from services.commitments.outbox.models import OutboxMessage
from services.commitments.reminders import rules as r
from services.commitments.reminders.models import ReminderFiring, ReminderRuleSet, ReminderSchedule
from services.commitments.reminders.scanner import EVENT_CLASSES, DeadlineScanner, TickResult
from shared.auth import Role
from shared.calendar import WorkingCalendar
from shared.clock import FixedClock
from shared.db import create_engine
from shared.events import EventEnvelope
from tests.services.commitments.reminders.requests import ok, sent_request

REQUEST = ["liaison", "deputy"]
LATE = ["liaison", "deputy", "hierarchy", "city_owner"]
VERY_LATE = [*LATE, "elected"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Created Monday 2 March 2026 at 09:00 UTC, due Thursday 5 March (3 working days later). D-10 and D-3 (this
# morning, 08:30 Paris) are already past when the deadline is set: they never fire. Easter Monday (6 April)
# is skipped; summer time starts on 29 March (08:30 Paris is then 06:30 UTC).
EXPECTED_MONTH = [
    ("D-1", "2026-03-04T07:30", "deadline.approaching", "none", REQUEST),
    ("D", "2026-03-05T07:30", "deadline.due", "none", REQUEST),
    ("D+1", "2026-03-06T07:30", "deadline.overdue", "none", REQUEST),
    ("D+5", "2026-03-12T07:30", "deadline.overdue", "none", REQUEST),
    ("D+10", "2026-03-19T07:30", "deadline.escalated", "late", LATE),
    ("D+15", "2026-03-26T07:30", "deadline.overdue", "late", LATE),
    ("D+20", "2026-04-02T06:30", "deadline.escalated", "very_late", VERY_LATE),
    ("D+25", "2026-04-10T06:30", "deadline.overdue", "very_late", VERY_LATE),
    ("D+30", "2026-04-17T06:30", "deadline.overdue", "very_late", VERY_LATE),
]


async def test_a_month_of_reminders_for_a_response_due_in_three_working_days(
    admin: httpx.AsyncClient,
    make_scanner: Callable[..., DeadlineScanner],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    tick_until: Callable[..., Awaitable[int]],
    firings: Callable[..., Awaitable[list[ReminderFiring]]],
    published_reminders: Callable[[], Awaitable[list[EventEnvelope]]],
) -> None:
    partner = await make_partner("Hauts-de-Seine Habitat")
    request = await sent_request(admin, await make_objective(), partner, "2026-03-05")
    scanner = make_scanner()

    await tick_until(scanner, utc("2026-03-06T10:00"))
    # The first overdue reminder also records that the request went unanswered (silence is never acceptance).
    assert ok(await admin.get(f"/v1/items/{request.item_id}"))["status"] == "no_answer"
    await tick_until(scanner, utc("2026-05-15T12:00"))

    fired = await firings(request.deadline_id)
    assert [(f.step, f.fire_at, f.event_type, f.escalation) for f in fired] == [
        (step, utc(at), kind, level) for step, at, kind, level, _ in EXPECTED_MONTH
    ]
    for firing in fired:  # sent at the first tick at or after the step's instant (hourly ticks)
        assert firing.fire_at <= firing.fired_at < firing.fire_at + timedelta(hours=1)
        assert firing.reminder_key == f"{request.deadline_id}:1:0:{firing.step}" and firing.skipped_steps == 0

    events = await published_reminders()
    assert [(e.data["step"], e.type, e.data["escalation"], e.data["audience"]) for e in events] == [
        (step, kind, level, audience) for step, _, kind, level, audience in EXPECTED_MONTH
    ]
    for event in events:
        assert event.data["deadline_id"] == request.deadline_id and event.data["item_id"] == request.item_id
        assert event.data["partner_ids"] == [request.partner_id] and event.data["kind"] == "response"
        assert event.data["due_on"] == "2026-03-05" and event.data["deadline_version"] == 1
    assert [e.data["offset_working_days"] for e in events] == [-1, 0, 1, 5, 10, 15, 20, 25, 30]
    # Nothing left to send: the upcoming preview is empty.
    assert ok(await admin.get("/v1/reminders/upcoming", params={"days": 60})) == []


async def test_an_answer_stops_the_reminders_and_an_acknowledgement_resets_escalation(
    admin: httpx.AsyncClient,
    make_scanner: Callable[..., DeadlineScanner],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    make_key: Callable[..., Awaitable[str]],
    client_for: Callable[[str | None], httpx.AsyncClient],
    tick_until: Callable[..., Awaitable[int]],
    firings: Callable[..., Awaitable[list[ReminderFiring]]],
) -> None:
    partner_id = await make_partner("Vallée Sud Grand Paris")
    partner = client_for(await make_key(Role.PARTNER, partner_id))
    request = await sent_request(admin, await make_objective(), partner_id, "2026-03-05")
    scanner = make_scanner()
    await tick_until(scanner, utc("2026-03-20T10:00"))  # D+10 (late) went out yesterday
    # The partner acknowledges receipt: not an answer, but a response: escalation starts again from today.
    ok(await partner.post(f"/v1/items/{request.item_id}/transitions", json={"to": "acknowledged"}))
    await tick_until(scanner, utc("2026-04-08T10:00"))
    # Then it answers: the response deadline is met, nothing more is sent.
    ok(await partner.post(f"/v1/items/{request.item_id}/transitions", json={"to": "accepted"}))
    await tick_until(scanner, utc("2026-05-29T10:00"), every=timedelta(hours=3))

    fired = [(f.arming, f.step, f.event_type, f.escalation) for f in await firings(request.deadline_id)]
    assert fired == [
        (0, "D-1", "deadline.approaching", "none"),
        (0, "D", "deadline.due", "none"),
        (0, "D+1", "deadline.overdue", "none"),
        (0, "D+5", "deadline.overdue", "none"),
        (0, "D+10", "deadline.escalated", "late"),
        # Counted from the acknowledgement (Friday 20 March): +5 → 27 March, +10 (late again) → 3 April.
        (1, "D+16", "deadline.overdue", "none"),
        (1, "D+21", "deadline.escalated", "late"),
    ]
    assert ok(await admin.get(f"/v1/items/{request.item_id}"))["status"] == "accepted"
    assert ok(await admin.get("/v1/reminders/upcoming", params={"days": 90})) == []


async def test_a_renegotiated_date_re_arms_the_reminders_against_it(
    admin: httpx.AsyncClient,
    make_scanner: Callable[..., DeadlineScanner],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    tick_until: Callable[..., Awaitable[int]],
    firings: Callable[..., Awaitable[list[ReminderFiring]]],
) -> None:
    request = await sent_request(admin, await make_objective(), await make_partner("CSCB"), "2026-03-05")
    scanner = make_scanner()
    await tick_until(scanner, utc("2026-03-06T10:00"))
    ok(
        await admin.patch(
            f"/v1/deadlines/{request.deadline_id}",
            json={"due_on": "2026-03-20", "reason": "Conseil d'administration reporté."},
        )
    )
    await tick_until(scanner, utc("2026-03-25T10:00"))

    fired = [(f.deadline_version, f.step, f.fire_at) for f in await firings(request.deadline_id)]
    assert fired == [
        (1, "D-1", utc("2026-03-04T07:30")),
        (1, "D", utc("2026-03-05T07:30")),
        (1, "D+1", utc("2026-03-06T07:30")),
        # Version 2, due Friday 20 March; its D-10 (this morning) was past when the date moved.
        (2, "D-3", utc("2026-03-17T07:30")),
        (2, "D-1", utc("2026-03-19T07:30")),
        (2, "D", utc("2026-03-20T07:30")),
        (2, "D+1", utc("2026-03-23T07:30")),
    ]


async def test_after_days_without_a_scanner_only_the_latest_missed_step_is_sent_inside_the_window(
    admin: httpx.AsyncClient,
    clock: FixedClock,
    make_scanner: Callable[..., DeadlineScanner],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    firings: Callable[..., Awaitable[list[ReminderFiring]]],
) -> None:
    request = await sent_request(
        admin, await make_objective(), await make_partner("Préfecture"), "2026-03-05"
    )
    scanner = make_scanner()
    # Down until Friday 13 March, 19:00 in Paris: D-1, D, D+1 and D+5 were missed; the window is closed.
    clock.instant = utc("2026-03-13T18:00")
    assert (await scanner.tick()).fired == 0
    clock.instant = utc("2026-03-16T07:00")  # Monday, 08:00 in Paris: still closed
    assert (await scanner.tick()).fired == 0
    clock.instant = utc("2026-03-16T07:30")
    result = await scanner.tick()
    assert (result.fired, result.skipped) == (1, 3)
    [firing] = await firings(request.deadline_id)
    assert (firing.step, firing.skipped_steps, firing.fired_at) == ("D+5", 3, utc("2026-03-16T07:30"))
    assert (await scanner.tick()).fired == 0
    assert ok(await admin.get(f"/v1/items/{request.item_id}"))["status"] == "no_answer"


async def _count_outbox(app: FastAPI, like: str) -> int:
    async with app.state.engine.connect() as connection:
        return int(
            await connection.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.event_type.like(like))
            )
            or 0
        )


DAYS = [9, 10, 11, 12, 13, 16, 17, 18, 19, 20] * 3
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the clock fixture's instant, when the deadlines are set


async def _reminder_keys_in_outbox(app: FastAPI) -> list[str]:
    async with app.state.engine.connect() as connection:
        payloads = (
            await connection.scalars(
                select(OutboxMessage.payload).where(OutboxMessage.event_type.in_(list(EVENT_CLASSES)))
            )
        ).all()
    return [json.loads(payload)["data"]["reminder_key"] for payload in payloads]


async def test_two_scanners_in_parallel_send_each_reminder_once(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    firings: Callable[..., Awaitable[list[ReminderFiring]]],
) -> None:
    objective, partner = await make_objective(), await make_partner("Bailleurs")
    requests = [
        await sent_request(admin, objective, partner, f"2026-03-{day:02d}", title=f"Demande {n}")
        for n, day in enumerate(DAYS)
    ]
    on_postgresql = app.state.engine.dialect.name == "postgresql"
    # On PostgreSQL, each scanner's first batch waits, its claimed rows locked, until the other one also holds a
    # batch: that both were inside a batch at once shows they shared the work (FOR UPDATE SKIP LOCKED) rather
    # than take turns. SQLite has a single writer: two scanners there can only take turns (the second waits for
    # the first's write lock), so this rendezvous would wait for nothing; there only the outcome is checked.
    inside = [asyncio.Event(), asyncio.Event()]
    met = [False, False]

    def rendezvous(me: int) -> Callable[[int], Awaitable[None]]:
        async def in_batch(_firings: int) -> None:
            if inside[me].is_set():
                return
            inside[me].set()
            with contextlib.suppress(TimeoutError):  # a generous bound, then the assertion below says why
                await asyncio.wait_for(inside[1 - me].wait(), timeout=60)
                met[me] = True

        return in_batch

    database_url = app.state.settings.database_url
    engines = [create_engine(database_url), create_engine(database_url)]
    results: list[list[TickResult]] = [[], []]
    try:
        scanners = [
            DeadlineScanner(
                outbox_aware_sessionmaker(engine, lambda: None),
                clock,
                batch_size=4,
                in_batch=rendezvous(n) if on_postgresql else None,
            )
            for n, engine in enumerate(engines)
        ]
        while clock.now() < utc("2026-04-30T12:00"):
            clock.advance(timedelta(hours=6))
            for mine, result in zip(
                results, await asyncio.gather(*(scanner.tick() for scanner in scanners)), strict=True
            ):
                mine.append(result)
    finally:
        for engine in engines:
            await engine.dispose()

    # Every request got every step of its schedule between the moment it was set and the last tick, once.
    expected: dict[str, list[str]] = {
        request.deadline_id: [
            s.name
            for s in r.schedule(date(2026, 3, day), r.DEFAULT_RULES, WorkingCalendar())
            if START < s.fire_at <= clock.now()
        ]
        for request, day in zip(requests, DAYS, strict=True)
    }
    expected_count = sum(len(steps) for steps in expected.values())
    fired = await firings()
    assert {
        deadline_id: [f.step for f in fired if str(f.deadline_id) == deadline_id] for deadline_id in expected
    } == expected
    assert len(fired) == sum(result.fired for mine in results for result in mine) == expected_count
    keys = await _reminder_keys_in_outbox(app)
    assert len(keys) == expected_count and set(keys) == {f.reminder_key for f in fired}
    if on_postgresql:
        assert met == [True, True], "the two scanners never held a batch at the same time"
        assert all(sum(result.batches for result in mine) > 0 for mine in results)


async def test_a_schedule_that_fails_is_put_off_and_the_others_are_sent(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    make_scanner: Callable[..., DeadlineScanner],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    caplog: pytest.LogCaptureFixture,
    schedule_of: Callable[[str], Awaitable[ReminderSchedule]],
    firings: Callable[..., Awaitable[list[ReminderFiring]]],
) -> None:
    objective, partner = await make_objective(), await make_partner("Hauts-de-Seine Habitat")
    good, malformed, unknown, last = [
        await sent_request(admin, objective, partner, "2026-03-05", title=f"Demande {n}") for n in range(4)
    ]
    async with app.state.sessionmaker() as session, session.begin():
        # What no API lets through: an override missing half of a group, an item in a status no code knows.
        session.add(
            ReminderRuleSet(
                item_id=uuid.UUID(malformed.item_id),
                overrides={"after": {"first": 1}},
                updated_at=clock.now(),
            )
        )
        await session.execute(
            update(Item).where(Item.id == uuid.UUID(unknown.item_id)).values(status="égaré")
        )
    clock.instant = utc("2026-03-04T08:00")  # D-1 was at 07:30
    with caplog.at_level(logging.ERROR, logger="services.commitments.reminders.scanner"):
        result = await make_scanner().tick()  # one batch holds the four

    assert (result.fired, result.failed, result.batches) == (2, 2, 1)
    assert {str(f.deadline_id) for f in await firings()} == {good.deadline_id, last.deadline_id}
    logged = [record for record in caplog.records if record.exc_info]
    assert sorted(str(record.args[0]) for record in logged) == sorted(
        [malformed.deadline_id, unknown.deadline_id]
    )
    for request in (malformed, unknown):  # put off by an hour; the good ones wait for their next step
        assert (await schedule_of(request.deadline_id)).next_fire_at == utc("2026-03-04T09:00")
    assert (await schedule_of(good.deadline_id)).next_fire_at == utc("2026-03-05T07:30")

    async with app.state.sessionmaker() as session, session.begin():  # the data is repaired
        await session.execute(
            delete(ReminderRuleSet).where(ReminderRuleSet.item_id == uuid.UUID(malformed.item_id))
        )
        await session.execute(update(Item).where(Item.id == uuid.UUID(unknown.item_id)).values(status="sent"))
    clock.instant = utc("2026-03-04T08:59")
    assert (await make_scanner().tick()).batches == 0  # not before the hour
    clock.instant = utc("2026-03-04T09:00")
    assert ((result := await make_scanner().tick()).fired, result.failed) == (2, 0)
    assert sorted((str(f.deadline_id), f.step) for f in await firings()) == sorted(
        (request.deadline_id, "D-1") for request in (good, malformed, unknown, last)
    )


@contextlib.asynccontextmanager
async def _database_refuses_firings_of(app: FastAPI, deadline_id: str) -> AsyncIterator[None]:
    """A trigger that makes the database itself refuse this deadline's firing rows (as a constraint would), so
    that the batch fails at the database, not in the scanner's own code."""
    name = f"refuse_{uuid.uuid4().hex[:12]}"
    matches = f"NEW.reminder_key LIKE '{deadline_id}:%'"
    if app.state.engine.dialect.name == "postgresql":
        function = (
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF {matches} THEN "
            "RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$"
        )
        create = [
            function,
            f"CREATE TRIGGER {name} BEFORE INSERT ON reminder_firings FOR EACH ROW EXECUTE FUNCTION {name}()",
        ]
        drop = [f"DROP TRIGGER {name} ON reminder_firings", f"DROP FUNCTION {name}()"]
    else:
        create = [
            (
                f"CREATE TRIGGER {name} BEFORE INSERT ON reminder_firings WHEN {matches} "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        ]
        drop = [f"DROP TRIGGER {name}"]
    async with app.state.engine.begin() as connection:
        for statement in create:
            await connection.execute(text(statement))
    try:
        yield
    finally:
        async with app.state.engine.begin() as connection:
            for statement in drop:
                await connection.execute(text(statement))


async def test_a_row_the_database_refuses_is_put_off_and_the_rest_of_its_batch_is_sent(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    make_scanner: Callable[..., DeadlineScanner],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    caplog: pytest.LogCaptureFixture,
    schedule_of: Callable[[str], Awaitable[ReminderSchedule]],
    firings: Callable[..., Awaitable[list[ReminderFiring]]],
) -> None:
    objective, partner = await make_objective(), await make_partner("Hauts-de-Seine Habitat")
    requests = [
        await sent_request(admin, objective, partner, "2026-03-05", title=f"Demande {n}") for n in range(5)
    ]
    poisoned, good = requests[2], [request for n, request in enumerate(requests) if n != 2]
    # Friday 6 March, 09:00 in Paris: D+1 is due (D-1 and D superseded), and the requests go unanswered with it.
    clock.instant = utc("2026-03-06T08:00")
    async with _database_refuses_firings_of(app, poisoned.deadline_id):
        with caplog.at_level(logging.WARNING, logger="services.commitments.reminders.scanner"):
            result = await make_scanner().tick()  # one batch holds the five

    assert (result.fired, result.skipped, result.failed, result.batches) == (4, 8, 1, 1)
    assert sorted(result.marked_unanswered) == sorted(uuid.UUID(request.item_id) for request in good)
    # The batch failed whole once (a warning), then row by row only the poisoned row failed (an error, its id).
    assert [record.levelno for record in caplog.records] == [logging.WARNING, logging.ERROR]
    assert "refused by the test" in caplog.records[0].getMessage()
    assert caplog.records[1].exc_info and str(caplog.records[1].args[0]) == poisoned.deadline_id
    # The others: fired once each, their event in the outbox, their schedule moved on, the request unanswered.
    assert sorted((str(f.deadline_id), f.step) for f in await firings()) == sorted(
        (request.deadline_id, "D+1") for request in good
    )
    assert sorted(await _reminder_keys_in_outbox(app)) == sorted(f"{r.deadline_id}:1:0:D+1" for r in good)
    for request in good:
        assert (await schedule_of(request.deadline_id)).next_fire_at == utc("2026-03-12T07:30")  # D+5
        assert ok(await admin.get(f"/v1/items/{request.item_id}"))["status"] == "no_answer"
    # The poisoned one: nothing written, put off by an hour.
    schedule = await schedule_of(poisoned.deadline_id)
    assert (schedule.next_fire_at, schedule.handled_until) == (utc("2026-03-06T09:00"), START)
    assert ok(await admin.get(f"/v1/items/{poisoned.item_id}"))["status"] == "sent"

    clock.instant = utc("2026-03-06T09:00")  # the database accepts it now: sent an hour late, whole
    assert ((result := await make_scanner().tick()).fired, result.failed, result.marked_unanswered) == (
        1,
        0,
        [uuid.UUID(poisoned.item_id)],
    )
    assert sorted((str(f.deadline_id), f.step) for f in await firings()) == sorted(
        (request.deadline_id, "D+1") for request in requests
    )


async def test_a_batch_is_written_whole_in_the_same_statements_whatever_its_size(
    app: FastAPI,
    admin: httpx.AsyncClient,
    clock: FixedClock,
    make_scanner: Callable[..., DeadlineScanner],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
) -> None:
    objective, partner = await make_objective(), await make_partner("Hauts-de-Seine Habitat")
    for n in range(2):
        await sent_request(admin, objective, partner, "2026-03-05", title=f"Demande {n}")
    for n in range(6):
        await sent_request(admin, objective, partner, "2026-03-10", title=f"Demande {n + 2}")
    statements: list[str] = []

    def record(_connection: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    sqlalchemy.event.listen(app.state.engine.sync_engine, "before_cursor_execute", record)
    try:
        counts = []
        for instant, expected in (("2026-03-04T08:00", 2), ("2026-03-05T08:00", 8)):  # 2 D-1; then 2 D, 6 D-3
            statements.clear()
            clock.instant = utc(instant)
            result = await make_scanner().tick()
            assert (result.fired, result.failed, result.batches) == (expected, 0, 1)
            assert statements.count("SAVEPOINT") == 1  # the batch's own, no row's
            counts.append(len(statements))
    finally:
        sqlalchemy.event.remove(app.state.engine.sync_engine, "before_cursor_execute", record)
    assert counts[0] == counts[1], "a bigger batch took more statements: some are sent per row"
