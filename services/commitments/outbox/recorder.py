"""Write an event into the outbox inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.outbox.models import OutboxMessage
from shared.auth import Principal
from shared.clock import Clock
from shared.events import EventData, EventEnvelope
from shared.outbox import recorder


def record_event(session: AsyncSession, data: EventData, actor: Principal, clock: Clock) -> EventEnvelope:
    """Add the event's outbox row to the session; it is published only if the transaction commits."""
    return recorder.record_event(session, OutboxMessage, data, actor.actor, clock)
