"""Write an event into a service's outbox inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import Clock
from shared.events import Actor, EventData, EventEnvelope
from shared.outbox.models import OutboxColumns
from shared.outbox.session import OUTBOX_PENDING
from shared.telemetry import inject_trace_context


def record_event(session: AsyncSession, model: type[OutboxColumns], data: EventData, actor: Actor,
                 clock: Clock) -> EventEnvelope:
    """Add the event's row (a `model`, the service's outbox table) to the session; it is published only if the
    transaction commits."""
    now = clock.now()
    envelope = EventEnvelope.wrap(data, occurred_at=now, actor=actor)
    session.add(model(event_id=envelope.id, event_type=envelope.type,  # type: ignore[call-arg]
                      payload=envelope.model_dump_json(), headers=dict(inject_trace_context({})),
                      created_at=now))
    session.info[OUTBOX_PENDING] = True
    return envelope
