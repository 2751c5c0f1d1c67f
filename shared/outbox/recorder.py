"""Write an event into a service's outbox inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import Clock
from shared.events import Actor, EventData, EventEnvelope
from shared.outbox.models import OutboxColumns
from shared.outbox.session import OUTBOX_PENDING
from shared.telemetry import inject_trace_context


def _outbox_row(
    data: EventData, actor: Actor, now: datetime, headers: dict[str, str] | None = None
) -> tuple[EventEnvelope, dict[str, Any]]:
    envelope = EventEnvelope.wrap(data, occurred_at=now, actor=actor)
    if headers is None:
        headers = dict(inject_trace_context({}))
    return envelope, {
        "event_id": envelope.id,
        "event_type": envelope.type,
        "payload": envelope.model_dump_json(),
        "headers": headers,
        "created_at": now,
    }


def record_event(
    session: AsyncSession, model: type[OutboxColumns], data: EventData, actor: Actor, clock: Clock
) -> EventEnvelope:
    """Add the event's row (a `model`, the service's outbox table) to the session; it is published only if the
    transaction commits."""
    envelope, row = _outbox_row(data, actor, clock.now())
    session.add(model(**row))
    session.info[OUTBOX_PENDING] = True
    return envelope


async def record_events(
    session: AsyncSession,
    model: type[OutboxColumns],
    events: Sequence[EventData],
    actor: Actor,
    clock: Clock,
    headers: Sequence[dict[str, str]] | None = None,
) -> list[EventEnvelope]:
    """Write the outbox rows of many events at once (one executemany: no ORM object each), in this order; they
    are published only if the transaction commits. `headers`, one per event, carry each one's trace context
    (by default the current one's)."""
    if not events:
        return []
    now = clock.now()
    rows = [
        _outbox_row(data, actor, now, headers[i] if headers is not None else None)
        for i, data in enumerate(events)
    ]
    await session.flush()  # the rows `record_event` added before these come first
    await session.execute(insert(model), [row for _, row in rows])
    session.info[OUTBOX_PENDING] = True
    return [envelope for envelope, _ in rows]
