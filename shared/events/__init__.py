"""Event contracts between services: versioned pydantic models, ids only, never personal data."""

from shared.events.envelope import Actor, EventData, EventEnvelope, event_types

__all__ = ["Actor", "EventData", "EventEnvelope", "event_types"]
