"""The notifications worker: a durable JetStream pull consumer of deadline reminder events, the SMTP sender,
the weekly digest and the relay of the service's own outbox, in one process (`python -m services.notifications
consume`).

For each reminder event the consumer asks the commitments service who the recipients are, writes one
delivery per recipient (unique per event, contact and channel) and commits; only then does it ack the
message. A redelivered event finds its rows already there and writes nothing new. After the commit it wakes
the sender of its process, which claims the new rows from the table (deliveries/claims.py) at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from opentelemetry import context as otel_context
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.commitments_client import CommitmentsClient, ContextRefused
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import repository, service
from services.notifications.deliveries.claims import worker_identity
from services.notifications.deliveries.digest import gather_digests, next_slot
from services.notifications.deliveries.sender import DeliverySender
from services.notifications.deliveries.service import REMINDER_TYPES, DeadlineReminder
from services.notifications.outbox.relay import OutboxRelay, outbox_lag, ping_relays
from services.notifications.recipients import ReminderContext
from services.notifications.smtp import SmtpPool
from services.notifications.webhooks.consumer import run_webhooks
from shared.bus import StreamSpec, connect, ensure_stream
from shared.calendar import use_calendar
from shared.clock import Clock
from shared.db import create_engine, create_sessionmaker
from shared.events import EventEnvelope
from shared.metrics import Hook, consumer_lag_hook, count_consumed, outbox_lag_hook
from shared.outbox.session import outbox_aware_sessionmaker
from shared.probes import worker_probes
from shared.problems import ServiceUnavailable
from shared.telemetry import extract_trace_context, setup_tracing
from shared.worker_process import connect_unless_stopped, stop_on_signals

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# Before retrying an event whose recipients could not be asked for (commitments service away): doubled at each
# redelivery up to the maximum; the consumer's max_deliver (CONSUMER_MAX_DELIVER) bounds the attempts.
# Reminder-context questions of one batch in flight at once. The commitments service answers them about one at
# a time: more in flight would only queue in the HTTP client's pool, where the wait counts against each
# request's timeout (a batch of a few hundred distinct deadlines would then time out).
CONTEXT_REQUESTS_AT_ONCE = 16
REDELIVERY_DELAY_SECONDS = 5.0
MAX_REDELIVERY_DELAY_SECONDS = 300.0
# The relay inside the worker shares the sender's event loop: while outcomes keep coming, it publishes what
# accumulated every so often rather than after each outcome commit (a pass costs about as much as ten events).
RELAY_PAUSE_SECONDS = 0.25


def redelivery_delay(message: Msg) -> float:
    """The wait before NATS offers this message again, longer at each failed delivery."""
    try:
        delivered = message.metadata.num_delivered
    except Exception:  # noqa: BLE001 - not a JetStream message (a test's): the first delay
        delivered = 1
    return min(REDELIVERY_DELAY_SECONDS * 2.0 ** max(delivered - 1, 0), MAX_REDELIVERY_DELAY_SECONDS)


class ReminderConsumer:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        stream: StreamSpec,
        settings: NotificationsSettings,
        clock: Clock,
        commitments: CommitmentsClient,
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.js = js
        self.stream = stream
        self.settings = settings
        self.clock = clock
        self.commitments = commitments
        # Told after each commit that wrote deliveries (the sender of the process: it looks at once).
        self.on_recorded = on_recorded
        self.subscription: JetStreamContext.PullSubscription | None = None

    async def subscribe(self) -> None:
        """Declare the stream if needed and bind to the durable consumer (created on first start)."""
        await ensure_stream(self.js, self.stream)
        # max_deliver: an event the commitments service keeps failing on is dropped after that many deliveries
        # rather than retried forever (a refusal, 4xx, is dropped at once: see handle()).
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.settings.consumer_ack_wait_seconds,
            max_ack_pending=max(1000, 4 * self.settings.consumer_batch_size),
            max_deliver=self.settings.consumer_max_deliver,
        )
        # All deadline.* events: the ones that are not reminders are acked and skipped.
        self.subscription = await self.js.pull_subscribe(
            self.stream.subject_for("deadline.>"),
            durable=self.settings.consumer_durable,
            stream=self.stream.name,
            config=config,
        )

    async def consumer_info(self) -> Any:
        """The durable consumer's JetStream info (its backlog); None before it is subscribed."""
        return None if self.subscription is None else await self.subscription.consumer_info()

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and handle batches until `stop` is set."""
        if self.subscription is None:
            await self.subscribe()
        assert self.subscription is not None
        while not stop.is_set():
            try:
                messages = await self.subscription.fetch(self.settings.consumer_batch_size, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):  # nothing new within a second
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                if stop.is_set():
                    return
                await asyncio.sleep(1.0)
                continue
            except (nats.js.errors.APIError, nats.errors.NoRespondersError) as exc:
                # A NATS cluster electing a stream or consumer leader (a node died) answers 503 for a while:
                # the worker waits and asks again rather than exit.
                logger.warning("fetch refused by NATS (%s); retrying", exc)
                await asyncio.sleep(1.0)
                continue
            try:
                await self.handle(messages)
            except Exception:  # unacked messages come back after ack_wait
                logger.exception("batch of %d reminder events failed; NATS will redeliver", len(messages))

    async def handle(self, messages: list[Msg]) -> None:
        """Record the deliveries of a batch in one transaction, then ack what was committed. Each message has its
        span, in the trace its headers carry on (the request that dated the deadline, through the scanner and
        the relay); the batch's transaction has one, linked to them."""
        spans = [_message_span(message) for message in messages]
        try:
            await self._handle(list(zip(messages, spans, strict=True)))
        except BaseException as exc:
            for span in spans:
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
            raise
        finally:
            for span in spans:
                span.end()

    async def _handle(self, messages: list[tuple[Msg, trace.Span]]) -> None:
        reminders: list[tuple[Msg, trace.Span, EventEnvelope, DeadlineReminder]] = []
        skipped: list[Msg] = []
        for message, span in messages:
            try:
                envelope = EventEnvelope.model_validate_json(message.data)
                if envelope.type not in REMINDER_TYPES:
                    skipped.append(message)
                    continue
                # REMINDER_TYPES checked just above
                reminders.append((message, span, envelope, envelope.parsed()))  # type: ignore[arg-type]
            except (ValueError, KeyError):
                logger.warning("unreadable event on %s dropped", message.subject)
                span.set_status(trace.StatusCode.ERROR, "unreadable event")
                skipped.append(message)
        # One question per distinct (item, deadline, audiences) in the batch: the steps of one deadline that
        # arrive together (after a pause, or overdue and escalated at once) share the answer.
        asked: dict[tuple[object, ...], asyncio.Future[ReminderContext | None]] = {}
        keys = [
            (event.item_id, event.deadline_id, tuple(sorted(set(event.audience))))
            for _, _, _, event in reminders
        ]
        at_once = asyncio.Semaphore(CONTEXT_REQUESTS_AT_ONCE)

        async def ask(event: DeadlineReminder) -> ReminderContext | None:
            async with at_once:
                return await self.commitments.reminder_context(
                    event.item_id, event.deadline_id, event.audience
                )

        for key, (_, span, _, event) in zip(keys, reminders, strict=True):
            if key not in asked:
                # Started in the message's span: the request (its client span, its trace headers) belongs to it.
                with trace.use_span(span):
                    asked[key] = asyncio.ensure_future(ask(event))
        results = await asyncio.gather(*(asked[key] for key in keys), return_exceptions=True)
        recorded: list[Msg] = []
        later: list[Msg] = []
        refused: list[Msg] = []
        next_digest_on = next_slot(
            self.clock.now(), self.settings.digest_weekday, self.settings.digest_time
        ).date()
        links = [trace.Link(span.get_span_context()) for _, span in messages]
        with tracer.start_as_current_span("record deliveries", context=otel_context.Context(), links=links):
            async with self.sessionmaker() as session, session.begin():
                rows = []
                for (message, span, envelope, event), result in zip(reminders, results, strict=True):
                    if isinstance(result, ContextRefused):
                        # Asking again the same way cannot help (a revoked service key, a question it rejects):
                        # dropped for good, loudly, rather than retried every few seconds forever.
                        logger.error(
                            "reminder event %s (%s, item %s, deadline %s) dropped: the commitments "
                            "service refused its reminder context (%s)",
                            envelope.id,
                            envelope.type,
                            event.item_id,
                            event.deadline_id,
                            result,
                        )
                        span.set_status(trace.StatusCode.ERROR, "reminder context refused")
                        refused.append(message)
                        continue
                    if isinstance(result, BaseException):
                        logger.warning(
                            "recipients of event %s unavailable (%s); retrying later", envelope.id, result
                        )
                        span.set_attribute("notifications.retried_later", True)
                        later.append(message)
                        continue
                    if result is not None:  # None: the item is gone, nobody to remind
                        # In the message's span: each delivery row keeps its trace, for the send to carry on.
                        with trace.use_span(span):
                            rows += await service.reminder_rows(
                                session,
                                self.clock,
                                self.settings.message_id_domain,
                                envelope,
                                event,
                                result,
                                next_digest_on,
                            )
                    recorded.append(message)
                # One statement for the whole batch: on SQLite each round trip waits for the writer's lock.
                await repository.insert_ignoring_duplicates(session, rows)
        # Committed: now, and only now, NATS may forget these messages.
        for message in (*recorded, *skipped):
            await message.ack()
        count_consumed(
            self.settings.consumer_durable,
            self.stream.subject_prefix,
            (message.subject for message in (*recorded, *skipped)),
        )
        for message in refused:
            await message.term()
        for message in later:
            await message.nak(delay=redelivery_delay(message))
        if recorded and self.on_recorded is not None:
            self.on_recorded()


def _message_span(message: Msg) -> trace.Span:
    """The CONSUMER span of one message, in the trace its headers carry (OpenTelemetry's messaging conventions)."""
    return tracer.start_span(
        f"process {message.subject}",
        context=extract_trace_context(message.headers),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.destination.name": message.subject,
            "messaging.message.id": (message.headers or {}).get("Nats-Msg-Id", ""),
        },
    )


@dataclass
class Worker:
    """Consumer, sender and digest sharing one engine, one NATS connection and one SMTP pool."""

    consumer: ReminderConsumer
    sender: DeliverySender
    settings: NotificationsSettings
    clock: Clock
    sessionmaker: async_sessionmaker[AsyncSession]
    # Publishes the outcomes' events (OUTBOX_RELAY_IN_WORKER); None when a `relay` process does.
    relay: OutboxRelay | None = None

    def metrics_hooks(self) -> list[Hook]:
        """What the worker's /metrics reads at each scrape: the reminder consumer's backlog, and the outbox's lag
        when this process relays it."""
        subscription_info = self.consumer.consumer_info
        hooks = [consumer_lag_hook(self.settings.consumer_durable, subscription_info)]
        if self.relay is not None:
            relay = self.relay
            hooks.append(
                outbox_lag_hook(relay.stream.name, lambda: outbox_lag(relay.sessionmaker, self.clock))
            )
        return hooks

    async def digest_pass(self) -> int:
        """Gather the digests whose slot has come (a no-op between slots)."""
        async with self.sessionmaker() as session, session.begin():
            count = await gather_digests(
                session,
                self.clock,
                self.settings.digest_weekday,
                self.settings.digest_time,
                self.settings.message_id_domain,
            )
        if count:
            self.sender.wake()
        return count

    async def run_digests(self, stop: asyncio.Event, every_seconds: float = 60.0) -> None:
        while not stop.is_set():
            try:
                await self.digest_pass()
            except Exception:
                logger.exception("digest pass failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        """Run the loops until `stop` is set."""
        await self.consumer.subscribe()
        tasks = [
            asyncio.create_task(self.consumer.run(stop)),
            asyncio.create_task(self.sender.run(stop)),
            asyncio.create_task(self.run_digests(stop)),
        ]
        if self.relay is not None:
            tasks.append(asyncio.create_task(self.relay.run(stop)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()


@contextlib.asynccontextmanager
async def worker(
    settings: NotificationsSettings, clock: Clock, nats_client: NatsClient | None = None
) -> AsyncIterator[Worker]:
    """A worker with its own engine, HTTP client, SMTP pool and sender identity, closed on exit."""
    use_calendar(settings.working_calendar())  # the installation's calendar, for the sender's dates
    async with contextlib.AsyncExitStack() as stack:
        worker_id = stack.enter_context(worker_identity(settings.sender_worker_id, settings.data_dir))
        client = nats_client or await connect(settings.nats_url, name="notifications-worker")
        if nats_client is None:
            stack.push_async_callback(_drain, client)
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        stack.push_async_callback(engine.dispose)
        own_stream = settings.notifications_stream()
        relay = (
            OutboxRelay(
                create_sessionmaker(engine),
                client,
                own_stream,
                clock,
                batch_size=settings.outbox_relay_batch_size,
                poll_seconds=settings.outbox_relay_poll_seconds,
                pause_seconds=RELAY_PAUSE_SECONDS,
            )
            if settings.outbox_relay_in_worker
            else None
        )

        def on_outbox_commit() -> None:
            """An outcome wrote events: publish them now rather than at the next poll."""
            if relay is not None:
                relay.wake()
            else:
                ping = asyncio.get_running_loop().create_task(ping_relays(client, own_stream))
                pings.add(ping)
                ping.add_done_callback(pings.discard)

        pings: set[asyncio.Task[None]] = set()  # held strongly until done
        sessionmaker = outbox_aware_sessionmaker(engine, on_outbox_commit)
        commitments = CommitmentsClient.from_settings(settings)
        stack.push_async_callback(commitments.aclose)
        smtp = SmtpPool(settings)
        stack.push_async_callback(smtp.close)
        stream = settings.commitments_stream()
        sender = DeliverySender(sessionmaker, settings, clock, commitments, smtp, worker_id)
        consumer = ReminderConsumer(
            sessionmaker, client.jetstream(), stream, settings, clock, commitments, on_recorded=sender.wake
        )
        stack.push_async_callback(_unsubscribe, consumer)
        yield Worker(consumer, sender, settings, clock, sessionmaker, relay)


async def _drain(client: NatsClient) -> None:
    with contextlib.suppress(Exception):
        await client.drain()


async def _unsubscribe(consumer: ReminderConsumer) -> None:
    if consumer.subscription is not None:
        with contextlib.suppress(Exception):
            await consumer.subscription.unsubscribe()


async def run_until_stopped(settings: NotificationsSettings, clock: Clock) -> None:
    """The `consume` command: run the worker until SIGTERM or SIGINT."""
    if not settings.commitments_api_key:
        raise ServiceUnavailable(
            "COMMITMENTS_API_KEY manquante : une clé de rôle « service » du service des "
            "engagements est nécessaire pour connaître les destinataires."
        )
    # Spans of the consumers, the sender and the webhooks, exported when an endpoint is set (OTEL_*, TRACING).
    if settings.tracing_enabled:
        setup_tracing(
            settings.otel_service_name or "notifications-worker", settings.otel_exporter_otlp_endpoint
        )
    stop = stop_on_signals()
    # HEALTH_PORT: ready while NATS is connected and the database answers; /metrics, with the consumers' and the
    # outbox's lag read at each scrape once they run.
    connection: dict[str, NatsClient] = {}
    hooks: list[Hook] = []
    async with worker_probes(
        settings.health_port, settings.database_url, lambda: connection.get("nats"), hooks
    ):
        client = await connect_unless_stopped(stop, settings.nats_url, name="notifications-worker")
        if client is None:
            return
        connection["nats"] = client
        try:
            async with worker(settings, clock, client) as running:
                hooks.extend(running.metrics_hooks())
                # Webhooks: their own consumer and dispatcher beside the reminders (services/notifications/webhooks/).
                await asyncio.gather(running.run(stop), run_webhooks(settings, clock, stop, hooks))
        finally:
            with contextlib.suppress(Exception):
                await client.drain()
