"""Write one of the service's events into its outbox inside the caller's transaction."""

from __future__ import annotations

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
