"""The services' /metrics over real HTTP after real work: the notifications worker (`consume`, a process of its
own, metrics on HEALTH_PORT) counts the events it consumed, the reminders sent and failed through a real SMTP
server, and reads its consumers' backlog and its outbox's lag; both APIs (uvicorn) count their requests by
route template and report their outbox's lag."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import uvicorn
from nats.aio.client import Client as NatsClient

from services.notifications.app import create_app
from services.notifications.config import NotificationsSettings
from shared.bus import StreamSpec, ensure_stream
from shared.clock import SystemClock
from tests.ports import free_port
from tests.probed_process import running
from tests.scraped_metrics import Scraped, scrape_until, value
from tests.services.notifications.served_commitments import Commitments
from tests.services.notifications.world import World, publish, reminder_event
from tests.smtp_sink import SinkHandler

pytestmark = pytest.mark.slow


def _worker_environment(settings: NotificationsSettings) -> dict[str, str]:
    return {
        "NOTIFICATIONS_DATABASE_URL": settings.database_url,
        "NATS_URL": settings.nats_url,
        "EVENTS_STREAM": settings.events_stream,
        "EVENTS_SUBJECT_PREFIX": settings.events_subject_prefix,
        "NOTIFICATIONS_EVENTS_STREAM": settings.notifications_events_stream,
        "NOTIFICATIONS_EVENTS_SUBJECT_PREFIX": settings.notifications_events_subject_prefix,
        "COMMITMENTS_URL": settings.commitments_url,
        "COMMITMENTS_API_KEY": settings.commitments_api_key,
        "SMTP_HOST": settings.smtp_host,
        "SMTP_PORT": str(settings.smtp_port),
        "CONSUMER_DURABLE": settings.consumer_durable,
        "WEBHOOK_CONSUMER_DURABLE": f"{settings.consumer_durable}_hooks",
        "SENDER_POLL_SECONDS": "0.2",
        "OUTBOX_RELAY_POLL_SECONDS": "0.5",
        "MAIL_SENDER": settings.mail_sender,
        "ACTION_LINK_SECRET": settings.action_link_secret,
        "LOG_LEVEL": "WARNING",
        "DATA_DIR": str(settings.data_dir),
    }


async def test_the_worker_counts_what_it_consumed_and_sent(
    notifications_settings: NotificationsSettings,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    handler.rejected.add(world.emails["deputy"])  # 550: a reminder that reaches nobody
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    await publish(js, stream, reminder_event(world, "due"))  # liaison and deputy
    await publish(js, stream, reminder_event(world, "overdue", audience=("liaison",)))
    durable = notifications_settings.consumer_durable
    own = notifications_settings.notifications_events_stream
    with running("services.notifications", ["consume"], _worker_environment(notifications_settings)) as (
        _,
        url,
    ):

        def settled(scraped: Scraped) -> bool:
            return (
                value(scraped, "engagements_reminders_sent_total", channel="email") == 2
                and value(scraped, "engagements_outbox_published_events_total", stream=own) == 3
                and value(scraped, "engagements_outbox_unpublished_events", stream=own) == 0
                and value(
                    scraped,
                    "engagements_events_consumed_total",
                    consumer=f"{durable}_hooks",
                    type="deadline.overdue",
                )
                == 1
                and (("engagements_consumer_pending_messages", frozenset({("consumer", durable)})) in scraped)
            )

        scraped = await scrape_until(
            f"{url}/metrics", settled, "both reminders handled and their events published"
        )
    # This process's own registry: exact figures.
    assert value(scraped, "engagements_reminders_failed_total", channel="email", reason="smtp-refused") == 1
    for kind in ("deadline.due", "deadline.overdue"):
        assert value(scraped, "engagements_events_consumed_total", consumer=durable, type=kind) == 1
    assert value(scraped, "engagements_consumer_pending_messages", consumer=durable) == 0
    assert value(scraped, "engagements_consumer_ack_pending_messages", consumer=durable) == 0
    # The webhook consumer read the same two events (no subscription wants them) and is caught up too.
    assert (
        value(scraped, "engagements_events_consumed_total", consumer=f"{durable}_hooks", type="deadline.due")
        == 1
    )
    assert value(scraped, "engagements_consumer_pending_messages", consumer=f"{durable}_hooks") == 0
    assert value(scraped, "engagements_outbox_oldest_unpublished_age_seconds", stream=own) == 0
    assert value(scraped, "engagements_metrics_hook_errors_total") == 0


async def test_the_apis_count_their_requests_by_route(
    notifications_settings: NotificationsSettings, commitments: Commitments, world: World, stream: StreamSpec
) -> None:
    # The commitments API (uvicorn, the test's fixture): seeding the world created three partners over HTTP.
    scraped = await scrape_until(
        f"{commitments.url}/metrics", lambda s: True, "the commitments API's metrics"
    )
    assert (
        value(
            scraped,
            "engagements_http_requests_total",
            service="commitments",
            route="/v1/partners",
            method="POST",
            status="201",
        )
        >= 3
    )
    assert ("engagements_outbox_unpublished_events", frozenset({("stream", stream.name)})) in scraped

    app = create_app(notifications_settings, SystemClock())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the notifications API did not start"
            await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        route = "/v1/deliveries/{delivery_id}"
        labels = {"service": "notifications", "route": route, "method": "GET"}
        before = await scrape_until(f"{url}/metrics", lambda s: True, "the notifications API's metrics")
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {commitments.admin_secret}"}, timeout=30
        ) as admin:
            for _ in range(2):
                assert (await admin.get(f"/v1/deliveries/{uuid.uuid4()}")).status_code == 404
            assert (await admin.get("/v1/deliveries")).status_code == 200
        after = await scrape_until(f"{url}/metrics", lambda s: True, "the notifications API's metrics")
    finally:
        server.should_exit = True
        await task
    assert (
        value(after, "engagements_http_requests_total", status="404", **labels)
        - value(before, "engagements_http_requests_total", status="404", **labels)
        == 2
    )
    assert (
        value(
            after,
            "engagements_http_requests_total",
            service="notifications",
            route="/v1/deliveries",
            method="GET",
            status="200",
        )
        >= 1
    )
    count = "engagements_http_request_duration_seconds_count"
    assert value(after, count, **labels) - value(before, count, **labels) == 2
    own = notifications_settings.notifications_events_stream
    assert value(after, "engagements_outbox_unpublished_events", stream=own) == 0  # nothing written here
