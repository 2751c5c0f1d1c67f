"""Write events into the outbox inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.outbox.models import OutboxMessage
from shared.auth import Principal
from shared.clock import Clock
from shared.events import EventData, EventEnvelope
from shared.outbox import recorder


def record_event(session: AsyncSession, data: EventData, actor: Principal, clock: Clock) -> EventEnvelope:
    """Add the event's outbox row to the session; it is published only if the transaction commits."""
    return recorder.record_event(session, OutboxMessage, data, actor.actor, clock)


async def record_events(
    session: AsyncSession,
    events: Sequence[EventData],
    actor: Principal,
    clock: Clock,
    headers: Sequence[dict[str, str]] | None = None,
) -> list[EventEnvelope]:
    """Write the outbox rows of many events at once, in this order (the scanner's batches); `headers`, one per
    event, carry each one's trace context."""
    return await recorder.record_events(session, OutboxMessage, events, actor.actor, clock, headers)
