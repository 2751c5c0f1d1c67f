"""The webhooks' own durable JetStream consumer, and `run_webhooks`, which runs it beside the dispatcher.

The consumer is separate from the reminder consumer: it sees every event of the stream (`<prefix>.>`) and,
for each, records one pending delivery per subscription that wants it, in one transaction; the message is
acknowledged only after that commit. A redelivered message finds its deliveries already recorded (unique
per subscription and event) and adds none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.config import NotificationsSettings
from services.notifications.webhooks import service
from services.notifications.webhooks.dispatcher import WebhookDispatcher
from shared.bus import StreamSpec, connect, ensure_stream
from shared.clock import Clock
from shared.db import create_engine, create_sessionmaker
from shared.events.envelope import EventEnvelope
from shared.metrics import Hook, consumer_lag_hook, count_consumed
from shared.telemetry import extract_trace_context

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


@dataclass
class WebhookConsumer:
    nats: NatsClient
    stream: StreamSpec
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    durable: str = "notifications-webhooks"
    batch_size: int = 50
    ack_wait_seconds: float = 60.0
    # Called after a commit that queued deliveries (wakes the dispatcher).
    on_recorded: Callable[[], None] = lambda: None
    recorded: int = field(default=0, init=False)
    subscription: JetStreamContext.PullSubscription | None = field(default=None, init=False)

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        """Declare the stream if nobody has yet, and bind to (or create) the durable consumer."""
        js = self.nats.jetstream()
        await ensure_stream(js, self.stream)
        # DeliverPolicy.ALL: a consumer created after events were published still sees them; deliveries go
        # only to subscriptions that existed when the event occurred (service.record_event), so no flood.
        config = ConsumerConfig(
            durable_name=self.durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait_seconds,
            filter_subject=f"{self.stream.subject_prefix}.>",
            max_ack_pending=max(1000, self.batch_size * 4),
        )
        return await js.pull_subscribe(
            f"{self.stream.subject_prefix}.>", durable=self.durable, stream=self.stream.name, config=config
        )

    async def handle(self, message: Msg) -> None:
        """Record the deliveries one event gives rise to, then acknowledge it."""
        try:
            envelope = EventEnvelope.model_validate_json(message.data)
        except ValidationError:
            # It will never parse: redelivering it would only block the ones behind it.
            logger.error("unreadable event on %s dropped by the webhook consumer", message.subject)
            await message.term()
            return
        with tracer.start_as_current_span(
            f"webhooks receive {envelope.type}",
            kind=trace.SpanKind.CONSUMER,
            context=extract_trace_context(message.headers),
            attributes={"messaging.system": "nats", "messaging.message.id": str(envelope.id)},
        ):
            async with self.sessionmaker() as session, session.begin():
                created = await service.record_event(session, self.clock, envelope)
        await message.ack()
        count_consumed(self.durable, self.stream.subject_prefix, [message.subject])
        if created:
            self.recorded += created
            self.on_recorded()

    async def consumer_info(self) -> Any:
        """The durable consumer's JetStream info (its backlog); None before it is subscribed."""
        return None if self.subscription is None else await self.subscription.consumer_info()

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and handle events until `stop` is set; a message that fails is left for redelivery."""
        subscription = None
        while not stop.is_set():
            try:
                if subscription is None:
                    subscription = self.subscription = await self.subscribe()
                messages = await subscription.fetch(self.batch_size, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                # Nothing new within a second: the normal state of an idle consumer. nats-py raises either.
                continue
            except Exception:  # NATS away or the stream not there yet: try again shortly
                logger.exception("webhook consumer: fetch failed, will retry")
                await _sleep_unless_stopped(stop, 1.0)
                continue
            for message in messages:
                try:
                    await self.handle(message)
                except Exception:  # the database is away: NATS redelivers after a short delay
                    logger.exception("webhook consumer: event not recorded, left for redelivery")
                    with contextlib.suppress(Exception):
                        await message.nak(delay=2.0)


async def _sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_webhooks(
    settings: NotificationsSettings,
    clock: Clock,
    stop: asyncio.Event,
    metrics_hooks: list[Hook] | None = None,
) -> None:
    """Run the webhook consumer and dispatcher of one process until `stop` is set; the consumer's backlog is
    added to `metrics_hooks` (the worker's /metrics)."""
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    sessionmaker = create_sessionmaker(engine)
    dispatcher = WebhookDispatcher(
        sessionmaker,
        clock,
        policy=service.retry_policy(settings),
        target_policy=service.target_policy(settings),
        timeout_seconds=settings.webhook_timeout_seconds,
        concurrency=settings.webhook_concurrency,
        poll_seconds=settings.webhook_poll_seconds,
    )
    client = await connect(settings.nats_url, name="notifications-webhooks")
    stream = settings.commitments_stream()
    consumer = WebhookConsumer(
        client,
        stream,
        sessionmaker,
        clock,
        durable=settings.webhook_consumer_durable,
        ack_wait_seconds=settings.consumer_ack_wait_seconds,
        on_recorded=dispatcher.wake,
    )
    if metrics_hooks is not None:
        metrics_hooks.append(consumer_lag_hook(consumer.durable, consumer.consumer_info))
    try:
        await asyncio.gather(consumer.run(stop), dispatcher.run(stop))
    finally:
        # close, not drain: every message handled was acknowledged explicitly, and draining a pull
        # subscription waits out its whole timeout.
        with contextlib.suppress(Exception):
            await client.close()
        await engine.dispose()
