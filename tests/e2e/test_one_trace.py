"""One trace from the request that dates a deadline to the reminder's mail and webhook: the HTTP request
(`POST /v1/items/{id}/deadlines`), the scanner firing the reminder days later, the outbox relay publishing it to
a real nats-server, the notifications consumer, the recipients' lookup, the mail composed and sent to a real
SMTP server (aiosmtpd), and the webhook POST to a real HTTP receiver — every span with the same trace id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.notifications.config import NotificationsSettings
from services.notifications.webhooks.consumer import run_webhooks
from services.notifications.webhooks.schemas import WebhookCreate
from services.notifications.webhooks.service import create_subscription, target_policy
from shared.bus import StreamSpec
from shared.db import create_engine, create_sessionmaker
from shared.events import Actor
from shared.telemetry import setup_tracing
from tests.e2e.flow import PARTNER, running, utc
from tests.ports import free_port
from tests.services.notifications.served_commitments import Commitments, serve_commitments
from tests.services.notifications.webhooks.conftest import Receiver, serve
from tests.smtp_sink import SinkHandler
from tests.waiting import wait_until


@pytest.fixture
async def commitments(
    database_url: str, nats_url: str, stream: StreamSpec, tmp_path: Path
) -> AsyncIterator[Commitments]:
    """The commitments service with its HTTP requests traced (its server spans start the trace)."""
    async with serve_commitments(database_url, nats_url, stream, tmp_path, tracing=True) as served:
        yield served


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The intranet's webhook endpoint."""
    receiver = Receiver(port=free_port())
    async with serve(receiver.app(), receiver.port):
        yield receiver


def _one(spans: Sequence[ReadableSpan], what: str) -> ReadableSpan:
    assert len(spans) == 1, (what, [span.name for span in spans])
    return spans[0]


async def test_one_trace_from_the_deadline_request_to_the_mail_and_the_webhook(
    commitments: Commitments,
    notifications_settings: NotificationsSettings,
    sink: tuple[Any, SinkHandler],
    nats_client: Any,
    stream: StreamSpec,
    receiver: Receiver,
) -> None:
    exporter = InMemorySpanExporter()
    setup_tracing("engagements-e2e", None, exporter)
    settings = notifications_settings.model_copy(
        update={
            "webhook_allow_http": True,
            "webhook_allow_private_targets": True,
            "webhook_poll_seconds": 0.1,
        }
    )
    engine = create_engine(settings.database_url)
    stop_webhooks = asyncio.Event()
    webhooks: asyncio.Task[None] | None = None
    try:
        async with running(commitments, settings, sink, nats_client, stream) as flow:
            # The intranet subscribes to the reminders before the first one fires.
            async with create_sessionmaker(engine)() as session, session.begin():
                await create_subscription(
                    session,
                    Actor(kind="system"),
                    commitments.clock,
                    target_policy(settings),
                    WebhookCreate(url=receiver.url(), event_types=["deadline.approaching"]),
                )
            webhooks = asyncio.create_task(run_webhooks(settings, commitments.clock, stop_webhooks))
            # Seeded on Monday 07:00 (Paris) with a response due on Thursday: D-3 fires at 08:30 that morning.
            await flow.run_until(utc("2026-03-02T08:00"))
            await wait_until(lambda: len(receiver.requests) == 1, "the webhook POST")
    finally:
        stop_webhooks.set()
        if webhooks is not None:
            await asyncio.wait_for(webhooks, timeout=30)
        await engine.dispose()
    assert {mail.to for mail in sink[1].all()} == PARTNER

    spans = exporter.get_finished_spans()
    request = _one(
        [
            s
            for s in spans
            if s.kind is SpanKind.SERVER
            and s.attributes.get("http.route") == "/v1/items/{item_id}/deadlines"
            and s.attributes.get("http.request.method", s.attributes.get("http.method")) == "POST"
        ],
        "the request that dated the deadline",
    )
    trace_id = request.context.trace_id

    fired = _one([s for s in spans if s.name == "fire deadline.approaching"], "the scanner's firing")
    publish = _one(
        [s for s in spans if s.kind is SpanKind.PRODUCER and s.name.endswith(".deadline.approaching")],
        "the relay's publish",
    )
    consume = _one(
        [
            s
            for s in spans
            if s.kind is SpanKind.CONSUMER
            and s.name.endswith(".deadline.approaching")
            and s.name.startswith("process ")
        ],
        "the reminder consumer",
    )
    lookups = [
        s
        for s in spans
        if s.kind is SpanKind.CLIENT
        and "/reminder-context" in str(s.attributes.get("url.full", s.attributes.get("http.url", "")))
    ]
    answers = [
        s
        for s in spans
        if s.kind is SpanKind.SERVER
        and s.attributes.get("http.route") == "/v1/items/{item_id}/reminder-context"
    ]
    composed = [s for s in spans if s.name == "compose reminder"]
    delivered = [s for s in spans if s.name == "deliver reminder"]
    smtp = [s for s in spans if s.name == "smtp sendmail"]
    webhook = _one([s for s in spans if s.name == "webhook POST"], "the webhook POST")
    # Asked by the consumer (who to write to) and again by the sender (fresh data), each answered by the
    # commitments service in the same trace; one mail per partner contact.
    assert len(lookups) == len(answers) == 2, [s.name for s in spans]
    assert len(composed) == len(delivered) == len(smtp) == len(PARTNER)

    path = [request, fired, publish, consume, *lookups, *answers, *composed, *delivered, *smtp, webhook]
    assert {format(s.context.trace_id, "032x") for s in path} == {format(trace_id, "032x")}
    # Each step is the child of the one before, across the outbox, NATS and the deliveries table.
    assert fired.parent is not None and fired.parent.span_id == request.context.span_id
    assert publish.parent is not None and publish.parent.span_id == fired.context.span_id
    assert consume.parent is not None and consume.parent.span_id == publish.context.span_id
    assert {s.parent.span_id for s in delivered if s.parent} == {consume.context.span_id}
    assert {s.parent.span_id for s in smtp if s.parent} == {s.context.span_id for s in delivered}
    assert any(s.parent is not None and s.parent.span_id == consume.context.span_id for s in lookups)
    assert {s.parent.span_id for s in answers if s.parent} == {s.context.span_id for s in lookups}
    assert all(s.attributes.get("smtp.reply") == "250" for s in smtp)
