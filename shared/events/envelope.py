"""The envelope every event travels in, and the registry of event types."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

_REGISTRY: dict[tuple[str, int], type[EventData]] = {}


class EventData(BaseModel):
    """Payload of one event type. Subclasses set `type` and `version` and list only ids and public facts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ClassVar[str]
    version: ClassVar[int] = 1
    summary: ClassVar[str] = ""
    # The service that publishes it, on its own stream (shared/events/catalogue.py: PUBLISHERS).
    publisher: ClassVar[str] = "commitments"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:
            _REGISTRY[(cls.type, cls.version)] = cls


class Actor(BaseModel):
    """Who caused the event: an API key, a partner contact acting through a signed link, or the system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["api_key", "contact", "system"]
    id: str | None = None
    role: str | None = None


class EventEnvelope(BaseModel):
    """What is published on the bus: `Nats-Msg-Id` is `id`, the subject is `<prefix>.<type>`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: UUID = Field(default_factory=uuid4)
    type: str
    version: int
    occurred_at: datetime
    actor: Actor
    data: dict[str, Any]

    @classmethod
    def wrap(cls, data: EventData, occurred_at: datetime, actor: Actor) -> EventEnvelope:
        return cls(
            type=data.type,
            version=data.version,
            occurred_at=occurred_at,
            actor=actor,
            data=data.model_dump(mode="json"),
        )

    def parsed(self) -> EventData:
        """The typed payload; raises KeyError for a type/version this build does not know."""
        return _REGISTRY[(self.type, self.version)].model_validate(self.data)


def event_types(publisher: str | None = None) -> dict[tuple[str, int], type[EventData]]:
    """Every registered event type, by (type, version); only those one service publishes if `publisher` is
    given ("commitments", "notifications")."""
    # Imported for what importing them does: each catalogue registers its event types.
    import shared.events.commitments
    import shared.events.notifications  # noqa: F401 - imported to register its event types

    return {
        key: model
        for key, model in sorted(_REGISTRY.items())
        if publisher is None or model.publisher == publisher
    }
