"""The projector (`python -m services.reporting project`): one durable JetStream pull consumer per stream
(commitments, notifications), each applying its batches in stream order, one transaction per batch.

Idempotent twice over: a batch skips the events whose id it already applied (processed_events), and the
stream sequence it reached is kept with the rows (stream_positions), so a message older than it is known to
be in. Messages are acknowledged only once the batch has committed.

Strictly in sequence order, whatever order JetStream delivers in: the tables hold every event up to their
position and none after it. JetStream does not always deliver in order: a batch a killed projector held stays
pending until the ack wait ends, and meanwhile the durable consumer delivers the next messages (as many as
max_ack_pending leaves room for); a message delivered after its fetch gave up comes back the same way. A batch
that does not follow on from the tables' position (a gap before it, or inside it) is applied up to the gap,
and the rest handed back (nak, with a short delay) until the missing messages have come and been applied;
applied first, the later events would push the position past the missing ones, skipped then as already in (a
reminder sent missing from reporting, an item left « draft »). A gap the stream itself has (messages deleted
or aged out) is stepped over."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.config import ReportingSettings
from services.reporting.projection import commitments, notifications
from services.reporting.projection.batch import Batch, record_processed
from services.reporting.projection.models import StreamPosition
from shared.bus import StreamSpec, ensure_stream
from shared.calendar import use_calendar
from shared.clock import Clock
from shared.db import create_engine, create_sessionmaker
from shared.events import EventEnvelope
from shared.probes import worker_probes
from shared.worker_process import connect_unless_stopped, stop_on_signals

logger = logging.getLogger(__name__)

# How long a message delivered ahead of a missing one waits before it comes again.
EARLY_REDELIVERY_SECONDS = 1.0

Apply = Callable[[Batch, EventEnvelope], Awaitable[None]]


@dataclass(frozen=True)
class Source:
    """A stream the read model is built from: `name` is what the tables record (not the NATS stream's
    name, which operators may change)."""

    name: str
    spec: StreamSpec
    apply: Apply


def sources(settings: ReportingSettings) -> list[Source]:
    """The two streams, commitments first (a rebuild replays them in this order)."""
    return [
        Source("commitments", settings.commitments_stream(), commitments.apply),
        Source("notifications", settings.notifications_stream(), notifications.apply),
    ]


async def last_applied(sessionmaker: async_sessionmaker[AsyncSession], source: Source) -> int:
    """The stream sequence the tables hold up to (0: nothing yet)."""
    async with sessionmaker() as session:
        position = await session.get(StreamPosition, source.name)
        return position.last_seq if position is not None else 0


async def apply_batch(
    sessionmaker: async_sessionmaker[AsyncSession], source: Source, messages: Sequence[tuple[int, bytes]]
) -> int:
    """Apply (stream sequence, body) pairs in one transaction, in sequence order; the number applied (events
    already in the tables are skipped)."""
    ordered = sorted(messages)
    async with sessionmaker() as session, session.begin():
        position = await session.get(StreamPosition, source.name)
        if position is None:
            position = StreamPosition(stream=source.name, last_seq=0)
            session.add(position)
        readable: list[tuple[int, EventEnvelope]] = []
        for seq, body in ordered:
            if seq <= position.last_seq:
                continue
            try:
                readable.append((seq, EventEnvelope.model_validate_json(body)))
            except ValueError:
                logger.warning("unreadable event at %s #%d skipped", source.name, seq)
        # Each event once: the first of the same id in the batch, and none the tables already hold.
        first: dict[uuid.UUID, tuple[int, EventEnvelope]] = {}
        for seq, envelope in readable:
            first.setdefault(envelope.id, (seq, envelope))
        new = await record_processed(
            session, source.name, [(seq, event_id) for event_id, (seq, _) in first.items()]
        )
        fresh = [(seq, envelope) for event_id, (seq, envelope) in first.items() if event_id in new]
        batch = Batch(session, source.name)
        await batch.load([envelope for _, envelope in fresh])
        for seq, envelope in fresh:
            batch.seq = seq
            try:
                await source.apply(batch, envelope)
            except (KeyError, ValueError) as exc:  # a type or version this build does not know, a bad payload
                logger.warning(
                    "event %s (%s v%d) at %s #%d not applied: %r",
                    envelope.id,
                    envelope.type,
                    envelope.version,
                    source.name,
                    seq,
                    exc,
                )
        await batch.write()
        if ordered:
            position.last_seq = max(position.last_seq, ordered[-1][0])
    return len(fresh)


class StreamProjector:
    """The durable consumer of one stream, feeding the read model."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        source: Source,
        settings: ReportingSettings,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.js = js
        self.source = source
        self.settings = settings
        self.subscription: JetStreamContext.PullSubscription | None = None
        self._waiting_for = 0  # the sequence last logged as missing (logged once per gap)

    async def subscribe(self) -> None:
        """Declare the stream if needed and bind to the durable consumer. Created on first start, it starts
        after what the tables already hold (a database rebuilt from the streams goes on from there). A durable
        consumer acknowledged past what the tables hold (acks follow commits: by the projector of another
        database, before a switch to a rebuilt one) would skip events: it is made again from the tables'
        position."""
        await ensure_stream(self.js, self.source.spec)
        start = await last_applied(self.sessionmaker, self.source)
        durable, stream = self.settings.projector_durable, self.source.spec.name
        try:
            info = await self.js.consumer_info(stream, durable)
        except NotFoundError:
            info = None
        if info is not None and info.ack_floor is not None and (info.ack_floor.stream_seq or 0) > start:
            logger.warning(
                "consumer %s of %s is acknowledged up to #%d but the tables hold up to #%d: made again "
                "from #%d",
                durable,
                stream,
                info.ack_floor.stream_seq,
                start,
                start + 1,
            )
            await self.js.delete_consumer(stream, durable)
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.settings.projector_ack_wait_seconds,
            max_ack_pending=self.settings.projector_batch_size,
        )
        if start:
            config.deliver_policy, config.opt_start_seq = DeliverPolicy.BY_START_SEQUENCE, start + 1
        self.subscription = await self.js.pull_subscribe(
            self.source.spec.subject_for(">"),
            durable=self.settings.projector_durable,
            stream=self.source.spec.name,
            config=config,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and apply batches until `stop` is set."""
        if self.subscription is None:
            await self.subscribe()
        assert self.subscription is not None
        while not stop.is_set():
            try:
                messages = await self.subscription.fetch(self.settings.projector_batch_size, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                if stop.is_set():
                    return
                await asyncio.sleep(1.0)
                continue
            except nats.errors.Error as exc:
                # A NATS node gone, the consumer's leader being elected (no responders, 503): the consumer is
                # still there, ask again (the fault run kills the stream leader: tests/faults).
                logger.warning("fetch from %s failed (%r); asking again", self.source.name, exc)
                await asyncio.sleep(1.0)
                continue
            try:
                await self.handle(messages)
            except Exception:
                logger.exception(
                    "batch of %d events of %s failed; retrying it", len(messages), self.source.name
                )
                await asyncio.sleep(1.0)

    async def handle(self, messages: list[Msg]) -> None:
        """Apply a batch in one transaction, then acknowledge it; on failure, hand it back in order. What follows
        a gap is handed back too, to come again once the missing messages have been applied."""
        ordered = sorted(messages, key=lambda message: message.metadata.sequence.stream)
        ready, early = await self.in_sequence(ordered)
        try:
            if ready:
                await apply_batch(
                    self.sessionmaker,
                    self.source,
                    [(message.metadata.sequence.stream, message.data) for message in ready],
                )
        except Exception:
            for message in ordered:
                with contextlib.suppress(Exception):
                    await message.nak()
            raise
        # Committed: now, and only now, NATS may forget these messages.
        for message in ready:
            await message.ack()
        for message in early:
            with contextlib.suppress(Exception):
                await message.nak(delay=EARLY_REDELIVERY_SECONDS)

    async def in_sequence(self, ordered: list[Msg]) -> tuple[list[Msg], list[Msg]]:
        """The messages (in sequence order) that follow on from the tables' position, those already in
        included, and those after the first gap."""
        expected = await last_applied(self.sessionmaker, self.source) + 1
        for index, message in enumerate(ordered):
            seq = message.metadata.sequence.stream
            if seq > expected:
                expected = await self._first_present(expected, seq)
            if seq > expected:
                if self._waiting_for != expected:
                    self._waiting_for = expected
                    logger.warning(
                        "%s #%d delivered before #%d: held back until the missing events are applied "
                        "(a batch left pending by a killed projector comes back after the ack wait)",
                        self.source.name,
                        seq,
                        expected,
                    )
                return ordered[:index], ordered[index:]
            expected = max(expected, seq + 1)
        return ordered, []

    async def _first_present(self, start: int, stop: int) -> int:
        """The first sequence from `start` (up to `stop`, a message at hand) that the stream still holds for
        this consumer: what the projector must apply next. A message deleted or aged out of the stream will
        never come (logged); if the stream cannot be asked, `start` (wait for it)."""
        name = self.source.spec.name
        try:
            first = (await self.js.stream_info(name)).state.first_seq
            seq = max(start, first)
            while seq < stop:
                try:
                    held = await self.js.get_msg(name, seq)
                except NotFoundError:
                    seq += 1
                    continue
                if (held.subject or "").startswith(self.source.spec.subject_prefix + "."):
                    break
                seq += 1
        except Exception as exc:  # noqa: BLE001 - NATS away or electing: wait for the missing messages
            logger.warning("could not look up %s #%d (%r): waiting for it", self.source.name, start, exc)
            return start
        if seq > start:
            logger.warning(
                "%s #%d to #%d are not in the stream (deleted or aged out): stepped over",
                self.source.name,
                start,
                seq - 1,
            )
        return seq

    async def unsubscribe(self) -> None:
        if self.subscription is not None:
            with contextlib.suppress(Exception):
                await self.subscription.unsubscribe()


@contextlib.asynccontextmanager
async def projectors(settings: ReportingSettings, client: NatsClient):  # type: ignore[no-untyped-def]
    """The consumers of both streams on one engine, unsubscribed and closed on exit."""
    use_calendar(settings.working_calendar())  # working days counted as the installation counts them
    engine = create_engine(settings.database_url, pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    running = [
        StreamProjector(sessionmaker, client.jetstream(), source, settings) for source in sources(settings)
    ]
    try:
        yield running
    finally:
        for projector in running:
            await projector.unsubscribe()
        await engine.dispose()


async def run_projectors(settings: ReportingSettings, client: NatsClient, stop: asyncio.Event) -> None:
    """Both consumers, until `stop` is set."""
    async with projectors(settings, client) as running:
        for projector in running:
            await projector.subscribe()
        await asyncio.gather(*(projector.run(stop) for projector in running))


async def run_until_stopped(settings: ReportingSettings, _clock: Clock) -> None:
    """The `project` command: run both consumers until SIGTERM or SIGINT."""
    stop = stop_on_signals()
    connection: dict[str, NatsClient] = {}
    async with worker_probes(settings.health_port, settings.database_url, lambda: connection.get("nats")):
        client = await connect_unless_stopped(stop, settings.nats_url, name="reporting-projector")
        if client is None:
            return
        connection["nats"] = client
        try:
            await run_projectors(settings, client, stop)
        finally:
            with contextlib.suppress(Exception):
                await client.drain()
