"""Fixtures for the reminder tests: the outbox tests' per-test stream and NATS client, a scanner on the app's
database and clock, the clock moved tick by tick, and what fired, scheduled and was published."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from services.commitments.outbox.relay import OutboxRelay
from services.commitments.reminders import repository
from services.commitments.reminders.models import ReminderFiring, ReminderSchedule
from services.commitments.reminders.scanner import DeadlineScanner
from shared.bus import StreamSpec, ensure_stream
from shared.clock import FixedClock
from shared.events import EventEnvelope
from tests.jetstream import stream_messages
from tests.services.commitments.outbox.conftest import nats_client, settings, settings_overrides, stream

__all__ = ["nats_client", "settings", "settings_overrides", "stream"]


@pytest.fixture
def make_scanner(app: FastAPI, clock: FixedClock) -> Callable[..., DeadlineScanner]:
    def make(batch_size: int = 50) -> DeadlineScanner:
        return DeadlineScanner(app.state.sessionmaker, clock, batch_size=batch_size)

    return make


@pytest.fixture
def tick_until(clock: FixedClock) -> Callable[..., Awaitable[int]]:
    """Move the clock to `end` one tick at a time, the scanner ticking at each; returns the reminders sent."""

    async def tick(scanner: DeadlineScanner, end: datetime, every: timedelta = timedelta(hours=1)) -> int:
        fired = 0
        while clock.now() + every <= end:
            clock.advance(every)
            fired += (await scanner.tick()).fired
        return fired

    return tick


@pytest.fixture
def schedule_of(app: FastAPI) -> Callable[[str], Awaitable[ReminderSchedule]]:
    """A deadline's reminder schedule."""

    async def read(deadline_id: str) -> ReminderSchedule:
        async with app.state.sessionmaker() as session, session.begin():
            schedule = await repository.get_schedule(session, uuid.UUID(deadline_id))
            assert schedule is not None
            return schedule

    return read


@pytest.fixture
def firings(app: FastAPI) -> Callable[..., Awaitable[list[ReminderFiring]]]:
    """The reminder steps fired (of one deadline, or of all)."""

    async def read(deadline_id: str | None = None) -> list[ReminderFiring]:
        async with app.state.sessionmaker() as session, session.begin():
            return list(
                await repository.firings_of(session, [uuid.UUID(deadline_id)] if deadline_id else None)
            )

    return read


@pytest.fixture
def published_reminders(
    app: FastAPI, nats_client: NatsClient, stream: StreamSpec, clock: FixedClock
) -> Callable[[], Awaitable[list[EventEnvelope]]]:
    """Publish the outbox to the test's stream, then read back the reminder events it holds."""

    async def read() -> list[EventEnvelope]:
        js = nats_client.jetstream()
        await ensure_stream(js, stream)
        await OutboxRelay(app.state.sessionmaker, nats_client, stream, clock).drain()
        envelopes = [
            EventEnvelope.model_validate_json(m.data) for m in await stream_messages(js, stream.name)
        ]
        return [
            e
            for e in envelopes
            if e.type in ("deadline.approaching", "deadline.due", "deadline.overdue", "deadline.escalated")
        ]

    return read
