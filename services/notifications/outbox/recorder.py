"""Write the service's events into its outbox inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.outbox.models import OutboxMessage
from shared.clock import Clock
from shared.events import Actor, EventData, EventEnvelope
from shared.outbox import recorder

SYSTEM = Actor(kind="system")


def record_event(
    session: AsyncSession, data: EventData, clock: Clock, actor: Actor = SYSTEM
) -> EventEnvelope:
    """Add the event's outbox row to the session; it is published only if the transaction commits."""
    return recorder.record_event(session, OutboxMessage, data, actor, clock)


async def record_events(
    session: AsyncSession, events: Sequence[EventData], clock: Clock, actor: Actor = SYSTEM
) -> None:
    """Write the outbox rows of many events at once, in this order (one statement, no ORM object each)."""
    await recorder.record_events(session, OutboxMessage, events, actor, clock)
