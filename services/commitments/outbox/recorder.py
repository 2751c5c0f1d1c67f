"""Write an event into the outbox inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.database import OUTBOX_PENDING
from services.commitments.outbox.models import OutboxMessage
from shared.auth import Principal
from shared.clock import Clock
from shared.events import EventData, EventEnvelope
from shared.telemetry import inject_trace_context


def record_event(session: AsyncSession, data: EventData, actor: Principal, clock: Clock) -> EventEnvelope:
    """Add the event's outbox row to the session; it is published only if the transaction commits."""
    now = clock.now()
    envelope = EventEnvelope.wrap(data, occurred_at=now, actor=actor.actor)
    session.add(OutboxMessage(event_id=envelope.id, event_type=envelope.type,
                              payload=envelope.model_dump_json(), headers=dict(inject_trace_context({})),
                              created_at=now))
    session.info[OUTBOX_PENDING] = True
    return envelope
