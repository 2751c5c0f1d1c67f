"""The outbox relay: publishes committed outbox rows to JetStream, in order, and marks them published. A
service binds it to its own outbox table (`model`) and stream.

A crash between publish and mark re-publishes the same rows on restart; JetStream drops them because
`Nats-Msg-Id` is the event id.

Several relays may run, active/standby: the stream must carry each item's events in the order they were
committed (the reporting projector applies them in stream order; an `item.status_changed` ahead of its
`item.created` would find no item). Two relays publishing different batches at once, or one killed between
reading its batch and publishing it while another publishes the next, would put later rows ahead of earlier
ones. So on PostgreSQL a relay publishes only while it holds a transaction-scoped advisory lock keyed on the
outbox table (`pg_try_advisory_xact_lock`, taken in the transaction that reads the batch): the others find
it taken, do nothing that turn and stay ready. When the holder dies its connection closes, the lock goes with
its transaction, and the next relay to look publishes everything unpublished in `position` order, the dead
relay's rows first. On SQLite, whose one write lock must not be held across NATS calls, a second relay would
only re-publish what JetStream then drops (SQLite runs as one process anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.bus import StreamSpec, ensure_stream, publish_event
from shared.clock import Clock
from shared.metrics import OUTBOX_DUPLICATES, OUTBOX_PUBLISHED
from shared.outbox import repository
from shared.outbox.models import OutboxColumns
from shared.telemetry import extract_trace_context, inject_trace_context

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


@dataclass
class RelayStats:
    published: int = 0
    duplicates: int = 0


@dataclass
class OutboxRelay:
    """Publishes one service's outbox (`model`, set by the service's subclass) to its stream."""

    model: ClassVar[type[OutboxColumns]]

    sessionmaker: async_sessionmaker[AsyncSession]
    nats: NatsClient
    stream: StreamSpec
    clock: Clock
    batch_size: int = 200
    poll_seconds: float = 5.0
    # After a pass that published something, wait this long before the next one: the events committed meanwhile
    # then go out together, in one pass instead of one each (a relay sharing its event loop with busy work).
    pause_seconds: float = 0.0
    # Awaited between publishing a batch and marking it, with the number of rows published (the crash tests
    # pause there, so that a kill lands between the two: tests/services/commitments/workers/faults.py).
    before_mark: Callable[[int], Awaitable[None]] | None = None
    # Awaited once a batch is read (under the relays' lock, on PostgreSQL) and before any of it is published, with the number
    # of rows: a kill there leaves rows committed by the API but not yet on the bus (the same crash tests).
    before_publish: Callable[[int], Awaitable[None]] | None = None
    stats: RelayStats = field(default_factory=RelayStats)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """Ask the relay to look at the outbox now (called after a commit that wrote events)."""
        self._wakeup.set()

    async def publish_batch(self) -> int:
        """Publish the oldest unpublished rows and mark them published; returns how many were handled."""
        js = self.nats.jetstream()
        async with self.sessionmaker() as session:
            if session.bind.dialect.name == "postgresql":
                # One relay at a time, for the whole batch: another one would publish later rows meanwhile. The
                # lock is the transaction's: it goes at commit, rollback, or when a dead relay's connection
                # closes. Neither it nor reading the rows gets in the way of the API, which only inserts them.
                async with session.begin():
                    if not await repository.lock_outbox(session, self.model):
                        return 0  # another relay is publishing: it drains what is there, this one stands by
                    rows = await self._oldest_unpublished(session)
                    if rows and self.before_publish is not None:
                        await self.before_publish(len(rows))
                    await self._publish(js, rows)
                    if rows and self.before_mark is not None:
                        await self.before_mark(len(rows))
                    await self._mark(session, rows)
                return len(rows)
            # SQLite has one write lock for the whole database, taken by every transaction (BEGIN IMMEDIATE):
            # holding it across NATS calls would make every API write wait on NATS (up to the publish timeout
            # when NATS is away). Read, publish and mark in separate steps; a second relay would only
            # re-publish, and be deduplicated.
            async with session.begin():
                rows = await self._oldest_unpublished(session)
            if not rows:
                return 0
            if self.before_publish is not None:
                await self.before_publish(len(rows))
            await self._publish(js, rows)
            if self.before_mark is not None:
                await self.before_mark(len(rows))
            async with session.begin():
                await self._mark(session, rows)
            return len(rows)

    async def _oldest_unpublished(self, session: AsyncSession) -> list[OutboxColumns]:
        return await repository.oldest_unpublished(session, self.model, self.batch_size)

    async def _publish(self, js: JetStreamContext, rows: list[OutboxColumns]) -> None:
        for row in rows:
            event_type = row.event_type
            subject = self.stream.subject_for(event_type)
            with tracer.start_as_current_span(
                f"publish {subject}",
                context=extract_trace_context(row.headers),
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.destination.name": subject,
                    "messaging.message.id": str(row.event_id),
                },
            ):
                headers = dict(inject_trace_context({}))
                ack = await publish_event(
                    js, self.stream, str(row.event_id), event_type, row.payload.encode(), headers
                )
            self.stats.published += 1
            OUTBOX_PUBLISHED.labels(self.stream.name).inc()
            if ack.duplicate:
                self.stats.duplicates += 1
                OUTBOX_DUPLICATES.labels(self.stream.name).inc()
                logger.info("event %s was already in the stream (dedup)", row.event_id)

    async def _mark(self, session: AsyncSession, rows: list[OutboxColumns]) -> None:
        if rows:
            await repository.mark_published(
                session, self.model, [row.position for row in rows], self.clock.now()
            )

    async def drain(self) -> int:
        """Publish until the outbox is empty: until a batch comes back short (whatever is committed after that
        read wakes the relay again)."""
        total = 0
        while count := await self.publish_batch():
            total += count
            if count < self.batch_size:
                break
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set: at start (recovering what a crash left), on each wake-up, and on a slow
        poll as a safety net for commits made by other processes."""
        subscription = await self.nats.subscribe(self.stream.wake_subject, cb=self._on_wake_message)
        stream_declared = False
        try:
            while not stop.is_set():
                self._wakeup.clear()  # before draining: a commit made during the drain wakes the next turn
                try:
                    # Retried like a publish: a NATS hiccup at start must not end the relay.
                    if not stream_declared:
                        await ensure_stream(self.nats.jetstream(), self.stream)
                        stream_declared = True
                    published = await self.drain()
                except Exception:  # NATS or the database is away: keep the rows, retry on the next turn
                    logger.exception("outbox relay: publish failed, will retry")
                    await asyncio.sleep(1.0)
                    published = 0
                if published and self.pause_seconds:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=self.pause_seconds)
                waiters = [asyncio.ensure_future(self._wakeup.wait()), asyncio.ensure_future(stop.wait())]
                await asyncio.wait(waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            await subscription.unsubscribe()

    async def _on_wake_message(self, _msg: object) -> None:
        self.wake()


async def outbox_lag(
    sessionmaker: async_sessionmaker[AsyncSession], model: type[OutboxColumns], clock: Clock
) -> dict[str, float | int]:
    """What the relays have yet to publish: how many outbox rows, and the age of the oldest in seconds (the
    API reports it in /readyz; an outbox that grows while NATS is away is expected, one that grows with NATS
    up means no relay runs)."""
    async with sessionmaker() as session:
        count, oldest = await repository.unpublished(session, model)
    age = max((clock.now() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return {"unpublished": count, "oldest_unpublished_seconds": round(age, 1)}


async def ping_relays(nats: NatsClient, stream: StreamSpec) -> None:
    """Wake relays running in other processes (a core NATS message, not stored)."""
    if nats.is_connected:
        await nats.publish(stream.wake_subject, b"")
