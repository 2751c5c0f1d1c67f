"""Helpers for the reminder tests: a request with a response deadline through the API, the clock moved tick by
tick, what fired, and the reminder events published to NATS."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from services.commitments.outbox.relay import OutboxRelay
from services.commitments.reminders import repository
from services.commitments.reminders.models import ReminderFiring, ReminderSchedule
from services.commitments.reminders.scanner import DeadlineScanner
from shared.bus import StreamSpec, ensure_stream
from shared.clock import FixedClock
from shared.events import EventEnvelope
from tests.services.commitments.outbox.support import stream_messages


@dataclass
class Request:
    item_id: str
    deadline_id: str
    partner_id: str


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def draft_request(admin: httpx.AsyncClient, objective_id: uuid.UUID, partner_id: uuid.UUID, due_on: str,
                        title: str = "Rénovation du centre commercial", kind: str = "response") -> Request:
    """A request to the partner, still a draft, with a deadline of this kind."""
    item = ok(await admin.post("/v1/items", json={
        "objective_id": str(objective_id), "kind": "request", "title": title,
        "plan_text": "La Ville demande au bailleur de rénover le centre commercial.",
        "lead_partner_id": str(partner_id)}), 201)
    deadline = ok(await admin.post(f"/v1/items/{item['id']}/deadlines", json={"kind": kind, "due_on": due_on}), 201)
    return Request(item["id"], deadline["id"], str(partner_id))


async def sent_request(admin: httpx.AsyncClient, objective_id: uuid.UUID, partner_id: uuid.UUID, due_on: str,
                       title: str = "Rénovation du centre commercial") -> Request:
    """A request to the partner, sent, with a response deadline."""
    item = ok(await admin.post("/v1/items", json={
        "objective_id": str(objective_id), "kind": "request", "title": title,
        "plan_text": "La Ville demande au bailleur de rénover le centre commercial.",
        "lead_partner_id": str(partner_id)}), 201)
    ok(await admin.post(f"/v1/items/{item['id']}/transitions", json={"to": "sent", "letter_reference": "SCX/1"}))
    deadline = ok(await admin.post(f"/v1/items/{item['id']}/deadlines",
                                   json={"kind": "response", "due_on": due_on}), 201)
    return Request(item["id"], deadline["id"], str(partner_id))


async def schedule_of(app: FastAPI, deadline_id: str) -> ReminderSchedule:
    async with app.state.sessionmaker() as session, session.begin():
        schedule = await repository.get_schedule(session, uuid.UUID(deadline_id))
        assert schedule is not None
        return schedule


async def tick_until(scanner: DeadlineScanner, clock: FixedClock, end: datetime,
                     every: timedelta = timedelta(hours=1)) -> int:
    """Move the clock to `end` one tick at a time, the scanner ticking at each; returns the reminders sent."""
    fired = 0
    while clock.now() + every <= end:
        clock.advance(every)
        fired += (await scanner.tick()).fired
    return fired


async def firings(app: FastAPI, deadline_id: str | None = None) -> list[ReminderFiring]:
    async with app.state.sessionmaker() as session, session.begin():
        return list(await repository.firings_of(session, [uuid.UUID(deadline_id)] if deadline_id else None))


async def published_reminders(app: FastAPI, nats: NatsClient, stream: StreamSpec, clock: FixedClock
                              ) -> list[EventEnvelope]:
    """Publish the outbox to the test's stream, then read back the reminder events it holds."""
    js = nats.jetstream()
    await ensure_stream(js, stream)
    await OutboxRelay(app.state.sessionmaker, nats, stream, clock).drain()
    envelopes = [EventEnvelope.model_validate_json(m.data) for m in await stream_messages(js, stream.name)]
    return [e for e in envelopes if e.type in ("deadline.approaching", "deadline.due", "deadline.overdue",
                                               "deadline.escalated")]


MakeKey = Callable[..., Awaitable[str]]
