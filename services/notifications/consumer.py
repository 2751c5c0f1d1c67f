"""The notifications worker: a durable JetStream pull consumer of deadline reminder events, the SMTP sender
and the weekly digest, in one process (`python -m services.notifications consume`).

For each reminder event the consumer asks the commitments service who the recipients are, writes one
delivery per recipient (unique per event, contact and channel) and commits; only then does it ack the
message. A redelivered event finds its rows already there and writes nothing new. The rows to send now are
written already claimed by the sender of this process and handed to it after the commit (see
DeliverySender.take_over), so that they are not read back from the table."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import uuid
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.commitments_client import CommitmentsClient, ContextRefused
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import repository, service
from services.notifications.deliveries.digest import gather_digests, next_slot
from services.notifications.deliveries.repository import ClaimedDelivery
from services.notifications.deliveries.sender import ContextKey, DeliverySender, context_key, reminder_audiences
from services.notifications.deliveries.service import REMINDER_TYPES, DeadlineReminder
from services.notifications.recipients import ReminderContext
from services.notifications.smtp import SmtpPool
from services.notifications.webhooks.consumer import run_webhooks
from shared.bus import StreamSpec, connect, ensure_stream
from shared.calendar import use_calendar
from shared.clock import Clock
from shared.db import create_engine, create_sessionmaker
from shared.events import EventEnvelope
from shared.probes import worker_probes
from shared.problems import ServiceUnavailable

logger = logging.getLogger(__name__)

# Before retrying an event whose recipients could not be asked for (commitments service away): doubled at each
# redelivery up to the maximum; the consumer's max_deliver (CONSUMER_MAX_DELIVER) bounds the attempts.
# Reminder-context questions of one batch in flight at once. The commitments service answers them about one at
# a time: more in flight would only queue in the HTTP client's pool, where the wait counts against each
# request's timeout (a batch of a few hundred distinct deadlines would then time out).
CONTEXT_REQUESTS_AT_ONCE = 16
REDELIVERY_DELAY_SECONDS = 5.0
MAX_REDELIVERY_DELAY_SECONDS = 300.0


def redelivery_delay(message: Msg) -> float:
    """The wait before NATS offers this message again, longer at each failed delivery."""
    try:
        delivered = message.metadata.num_delivered
    except Exception:  # noqa: BLE001 - not a JetStream message (a test's): the first delay
        delivered = 1
    return min(REDELIVERY_DELAY_SECONDS * 2 ** max(delivered - 1, 0), MAX_REDELIVERY_DELAY_SECONDS)


class ReminderConsumer:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext, stream: StreamSpec,
                 settings: NotificationsSettings, clock: Clock, commitments: CommitmentsClient,
                 on_recorded: DeliverySender | None = None) -> None:
        self.sessionmaker = sessionmaker
        self.js = js
        self.stream = stream
        self.settings = settings
        self.clock = clock
        self.commitments = commitments
        self.sender = on_recorded
        self.subscription: JetStreamContext.PullSubscription | None = None

    async def subscribe(self) -> None:
        """Declare the stream if needed and bind to the durable consumer (created on first start)."""
        await ensure_stream(self.js, self.stream)
        # max_deliver: an event the commitments service keeps failing on is dropped after that many deliveries
        # rather than retried forever (a refusal, 4xx, is dropped at once: see handle()).
        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=self.settings.consumer_ack_wait_seconds,
                                max_ack_pending=max(1000, 4 * self.settings.consumer_batch_size),
                                max_deliver=self.settings.consumer_max_deliver)
        # All deadline.* events: the ones that are not reminders are acked and skipped.
        self.subscription = await self.js.pull_subscribe(self.stream.subject_for("deadline.>"),
                                                         durable=self.settings.consumer_durable,
                                                         stream=self.stream.name, config=config)

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and handle batches until `stop` is set."""
        if self.subscription is None:
            await self.subscribe()
        assert self.subscription is not None
        while not stop.is_set():
            try:
                messages = await self.subscription.fetch(self.settings.consumer_batch_size, timeout=1.0)
            except (asyncio.TimeoutError, nats.errors.TimeoutError):  # nothing new within a second
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                if stop.is_set():
                    return
                await asyncio.sleep(1.0)
                continue
            try:
                await self.handle(messages)
            except Exception:  # noqa: BLE001 - unacked messages come back after ack_wait
                logger.exception("batch of %d reminder events failed; NATS will redeliver", len(messages))

    async def handle(self, messages: list[Msg]) -> None:
        """Record the deliveries of a batch in one transaction, then ack what was committed."""
        reminders: list[tuple[Msg, EventEnvelope, DeadlineReminder]] = []
        skipped: list[Msg] = []
        for message in messages:
            try:
                envelope = EventEnvelope.model_validate_json(message.data)
                if envelope.type not in REMINDER_TYPES:
                    skipped.append(message)
                    continue
                reminders.append((message, envelope, envelope.parsed()))  # type: ignore[arg-type]
            except (ValueError, KeyError):
                logger.warning("unreadable event on %s dropped", message.subject)
                skipped.append(message)
        # One question per distinct (item, deadline, audiences) in the batch: the steps of one deadline that
        # arrive together (after a pause, or overdue and escalated at once) share the answer.
        # The question is the sender's (the event's audiences and the city owner), so that the sender, woken
        # right after the commit, renders with this answer instead of asking it again (FreshContexts).
        asked: dict[ContextKey, asyncio.Future[ReminderContext | None]] = {}
        keys = [context_key(event.item_id, event.deadline_id, reminder_audiences(event)) for _, _, event in reminders]
        at_once = asyncio.Semaphore(CONTEXT_REQUESTS_AT_ONCE)

        async def ask(key: ContextKey) -> ReminderContext | None:
            async with at_once:
                return await self.commitments.reminder_context(*key)

        for key in keys:
            if key not in asked:
                asked[key] = asyncio.ensure_future(ask(key))
        results = await asyncio.gather(*(asked[key] for key in keys), return_exceptions=True)
        recorded: list[Msg] = []
        later: list[Msg] = []
        refused: list[Msg] = []
        next_digest_on = next_slot(self.clock.now(), self.settings.digest_weekday, self.settings.digest_time).date()
        # The rows to send now are written claimed by this process's sender and handed over after the commit,
        # so that it need not read them back (unless it still has a handed-over batch waiting).
        claimed_until = self.sender.claim_for_handover() if self.sender is not None else None
        events: dict[uuid.UUID, DeadlineReminder] = {}
        async with self.sessionmaker() as session, session.begin():
            rows = []
            for (message, envelope, event), result in zip(reminders, results, strict=True):
                if isinstance(result, ContextRefused):
                    # Asking again the same way cannot help (a revoked service key, a question it rejects):
                    # dropped for good, loudly, rather than retried every few seconds forever.
                    logger.error("reminder event %s (%s, item %s, deadline %s) dropped: the commitments service "
                                 "refused its reminder context (%s)", envelope.id, envelope.type, event.item_id,
                                 event.deadline_id, result)
                    refused.append(message)
                    continue
                if isinstance(result, BaseException):
                    logger.warning("recipients of event %s unavailable (%s); retrying later", envelope.id, result)
                    later.append(message)
                    continue
                if result is not None:  # None: the item is gone, nobody to remind
                    new_rows = await service.reminder_rows(session, self.clock, self.settings.message_id_domain,
                                                           envelope, event, result, next_digest_on, claimed_until)
                    events.update((row["id"], event) for row in new_rows)
                    rows += new_rows
                recorded.append(message)
            # One statement for the whole batch: on SQLite each round trip waits for the writer's lock.
            inserted = await repository.insert_telling_written(session, rows)
        if self.sender is not None:
            for key, result in zip(keys, results, strict=True):
                if isinstance(result, ReminderContext):
                    self.sender.fresh.put(key, result)
            if claimed_until is not None:
                # The rows written now and claimed: not a redelivered event's (sent before), nor one held for
                # the weekly digest.
                self.sender.take_over([ClaimedDelivery(row["id"], row["kind"], row["event"], row["contact_id"],
                                                       row["message_id"], row["attempts"])
                                       for row in rows
                                       if row["id"] in inserted and row["next_attempt_at"] == claimed_until],
                                      events, claimed_until)
        # Committed: now, and only now, NATS may forget these messages.
        for message in (*recorded, *skipped):
            await message.ack()
        for message in refused:
            await message.term()
        for message in later:
            await message.nak(delay=redelivery_delay(message))
        if recorded and self.sender is not None:
            self.sender.wake()


@dataclass
class Worker:
    """Consumer, sender and digest sharing one engine, one NATS connection and one SMTP pool."""

    consumer: ReminderConsumer
    sender: DeliverySender
    settings: NotificationsSettings
    clock: Clock
    sessionmaker: async_sessionmaker[AsyncSession]

    async def digest_pass(self) -> int:
        """Gather the digests whose slot has come (a no-op between slots)."""
        async with self.sessionmaker() as session, session.begin():
            count = await gather_digests(session, self.clock, self.settings.digest_weekday,
                                         self.settings.digest_time, self.settings.message_id_domain)
        if count:
            self.sender.wake()
        return count

    async def run_digests(self, stop: asyncio.Event, every_seconds: float = 60.0) -> None:
        while not stop.is_set():
            try:
                await self.digest_pass()
            except Exception:  # noqa: BLE001
                logger.exception("digest pass failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        """Run the three loops until `stop` is set."""
        await self.consumer.subscribe()
        tasks = [asyncio.create_task(self.consumer.run(stop)), asyncio.create_task(self.sender.run(stop)),
                 asyncio.create_task(self.run_digests(stop))]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()


@contextlib.asynccontextmanager
async def worker(settings: NotificationsSettings, clock: Clock, nats_client=None):  # type: ignore[no-untyped-def]
    """A worker with its own engine, HTTP client and SMTP pool, closed on exit."""
    use_calendar(settings.working_calendar())  # the installation's calendar, for the sender's dates
    own_client = nats_client is None
    client = nats_client or await connect(settings.nats_url, name="notifications-worker")
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    sessionmaker = create_sessionmaker(engine)
    commitments = CommitmentsClient.from_settings(settings)
    smtp = SmtpPool(settings)
    stream = StreamSpec(settings.events_stream, settings.events_subject_prefix,
                        settings.events_duplicate_window_seconds)
    sender = DeliverySender(sessionmaker, settings, clock, commitments, smtp)
    sender.prepare()
    consumer = ReminderConsumer(sessionmaker, client.jetstream(), stream, settings, clock, commitments, sender)
    # What is loaded by now (modules, templates, ORM and pydantic metadata, holiday tables) lives as long as
    # the process: kept out of the garbage collector's full passes, which otherwise walk it all again (about a
    # tenth of a second each, every few thousand mails: 4-5% of the worker's time in bench/).
    gc.freeze()
    try:
        yield Worker(consumer, sender, settings, clock, sessionmaker)
    finally:
        gc.unfreeze()
        if consumer.subscription is not None:
            with contextlib.suppress(Exception):
                await consumer.subscription.unsubscribe()
        await smtp.close()
        await commitments.aclose()
        if own_client:
            with contextlib.suppress(Exception):
                await client.drain()
        await engine.dispose()


async def run_until_stopped(settings: NotificationsSettings, clock: Clock) -> None:
    """The `consume` command: run the worker until SIGTERM or SIGINT."""
    if not settings.commitments_api_key:
        raise ServiceUnavailable("COMMITMENTS_API_KEY manquante : une clé de rôle « service » du service des "
                                 "engagements est nécessaire pour connaître les destinataires.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # HEALTH_PORT: ready while NATS is connected and the database answers.
    connection: dict[str, NatsClient] = {}
    async with worker_probes(settings.health_port, settings.database_url, lambda: connection.get("nats")):
        # connect() retries while NATS is away: race it against a stop request.
        connecting = asyncio.ensure_future(connect(settings.nats_url, name="notifications-worker"))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([connecting, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not connecting.done():
            connecting.cancel()
            return
        connection["nats"] = client = connecting.result()
        try:
            async with worker(settings, clock, client) as running:
                # Webhooks: their own consumer and dispatcher beside the reminders (services/notifications/webhooks/).
                await asyncio.gather(running.run(stop), run_webhooks(settings, clock, stop))
        finally:
            with contextlib.suppress(Exception):
                await client.drain()
