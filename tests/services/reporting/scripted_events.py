"""A scripted history of events for the reporting tests (dates chosen by hand), published straight into the
streams."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from shared.bus import StreamSpec, ensure_stream, publish_event
from shared.clock import PARIS
from shared.events import Actor, EventData, EventEnvelope

SYSTEM = Actor(kind="system")


def at(day: date, hour: int = 9) -> datetime:
    """That day at `hour` in Paris, as the aware instant events carry."""
    return datetime.combine(day, time(hour), tzinfo=PARIS)


@dataclass
class Script:
    """Events of both streams, in the order they happen."""

    commitments: list[EventEnvelope] = field(default_factory=list)
    notifications: list[EventEnvelope] = field(default_factory=list)

    def emit(self, data: EventData, day: date, hour: int = 9) -> EventEnvelope:
        envelope = EventEnvelope.wrap(data, at(day, hour), SYSTEM)
        self.commitments.append(envelope)
        return envelope

    def notify(self, event_type: str, day: date, hour: int = 9, **data: Any) -> EventEnvelope:
        """An event of the notifications stream, as its contract says (ids as strings)."""
        body = {key: str(value) if isinstance(value, uuid.UUID) else value for key, value in data.items()}
        envelope = EventEnvelope(
            type=event_type, version=1, occurred_at=at(day, hour), actor=SYSTEM, data=body
        )
        self.notifications.append(envelope)
        return envelope


async def publish_all(js: JetStreamContext, stream: StreamSpec, envelopes: list[EventEnvelope]) -> None:
    await ensure_stream(js, stream)
    for envelope in envelopes:
        await publish_event(
            js, stream, str(envelope.id), envelope.type, envelope.model_dump_json().encode(), {}
        )


async def publish_script(client: NatsClient, streams: tuple[StreamSpec, StreamSpec], script: Script) -> None:
    js = client.jetstream()
    await publish_all(js, streams[0], script.commitments)
    await publish_all(js, streams[1], script.notifications)
