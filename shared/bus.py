"""NATS JetStream plumbing: connect, declare the event stream, publish an event with dedup id and trace."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import PubAck, StreamConfig
from nats.js.errors import NotFoundError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamSpec:
    """Which stream carries a service's events and under which subject prefix."""

    name: str
    subject_prefix: str
    duplicate_window_seconds: float = 3600.0
    # Copies of the stream kept by a NATS cluster (1 on a single server, 3 on a three-node cluster), used when
    # a service creates the stream; a stream that exists keeps the replicas operations gave it.
    replicas: int = 1

    @property
    def subjects(self) -> list[str]:
        return [f"{self.subject_prefix}.>"]

    def subject_for(self, event_type: str) -> str:
        return f"{self.subject_prefix}.{event_type}"

    @property
    def wake_subject(self) -> str:
        # Outside the stream's subjects on purpose: a wake-up ping is not an event and must not be stored.
        return f"_engagements.wake.{self.name}"


async def connect(url: str, name: str, **options: object) -> NatsClient:
    """Connect to NATS with reconnects that never give up (the service outlives NATS restarts). `url` may list
    several servers of a cluster, separated by commas (nats://a:4222,nats://b:4222): the client tries each."""
    servers = [server.strip() for server in url.split(",") if server.strip()]
    return await nats.connect(
        servers, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=2, **options
    )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    """Create the stream, or bring its subjects and dedup window to the spec, keeping every other setting."""
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=spec.name,
                subjects=spec.subjects,
                duplicate_window=spec.duplicate_window_seconds,
                num_replicas=spec.replicas,
            )
        )
        logger.info("created stream %s for %s", spec.name, spec.subjects)
        return
    current = info.config
    if (
        sorted(current.subjects or []) == sorted(spec.subjects)
        and current.duplicate_window == spec.duplicate_window_seconds
    ):
        return
    # Update from the stream's own configuration: a fresh StreamConfig would reset what operations chose
    # (replicas back to 1, limits and retention to none) and fail outright on a memory-storage stream.
    await js.update_stream(
        current.evolve(subjects=spec.subjects, duplicate_window=spec.duplicate_window_seconds)
    )
    logger.info(
        "updated stream %s: subjects %s, dedup window %ss",
        spec.name,
        spec.subjects,
        spec.duplicate_window_seconds,
    )


async def publish_event(
    js: JetStreamContext,
    spec: StreamSpec,
    event_id: str,
    event_type: str,
    payload: bytes,
    headers: dict[str, str],
) -> PubAck:
    """Publish one event; `Nats-Msg-Id` lets JetStream drop a re-publish within the dedup window."""
    return await js.publish(
        spec.subject_for(event_type), payload, headers={**headers, "Nats-Msg-Id": event_id}, stream=spec.name
    )


@dataclass
class BusState:
    """An API process's NATS connection, made in the background so the API serves (and /readyz says it is
    not ready) while NATS is away, and the tasks that use it."""

    client: NatsClient | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    pings: set[asyncio.Task[None]] = field(default_factory=set)  # fire-and-forget publishes, held strongly

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected

    async def connect_until(self, url: str, name: str, stop: asyncio.Event) -> bool:
        """Connect, retrying every 2 s while NATS is away: True once connected, False if stopped first."""
        while self.client is None and not stop.is_set():
            try:
                self.client = await connect(url, name=name)
            except Exception as exc:  # noqa: BLE001 - any failure: retry, /readyz says why
                logger.warning("NATS unreachable at %s (%s); retrying", url, exc)
                await asyncio.sleep(2.0)
        return self.client is not None

    async def close(self, timeout: float = 5.0) -> None:
        """Wait for the background tasks (they watch the stop event), then drain the connection."""
        for task in self.tasks:
            try:
                await asyncio.wait_for(task, timeout=timeout)
            except (TimeoutError, asyncio.CancelledError):
                pass
            except Exception:  # a crashed background task must not turn a clean shutdown into an error
                logger.exception("background task failed")
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.drain()


async def follow_key_revocations(
    client: NatsClient, stream: StreamSpec, forget: Callable[[uuid.UUID], None]
) -> None:
    """Forget each key as soon as its `api_key.revoked` event arrives (rather than when a cache expires)."""
    from shared.events import EventEnvelope
    from shared.events.commitments import ApiKeyRevoked

    async def on_revoked(message: Msg) -> None:
        try:
            event = EventEnvelope.model_validate_json(message.data).parsed()
        except (ValueError, KeyError):
            logger.warning("unreadable api_key.revoked message ignored")
            return
        if isinstance(event, ApiKeyRevoked):
            forget(event.key_id)

    await client.subscribe(stream.subject_for(ApiKeyRevoked.type), cb=on_revoked)
