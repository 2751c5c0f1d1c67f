"""The consumer process (`python -m services.notifications consume`) killed with SIGKILL in the middle of a
batch, then restarted: every recipient gets its mail; a mail in flight at the kill may arrive twice, never
more, and then under the same Message-ID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NatsClient

from services.notifications.config import NotificationsSettings
from shared.bus import StreamSpec, ensure_stream
from tests.services.notifications.world import World, publish, reminder_event
from tests.smtp_sink import SinkHandler
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]
EVENTS = 30  # × 2 recipients


def _environment(settings: NotificationsSettings) -> dict[str, str]:
    values = {
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
        "SMTP_CONNECTIONS": "2",
        "CONSUMER_DURABLE": settings.consumer_durable,
        "CONSUMER_BATCH_SIZE": "10",
        # Short enough that what the killed process held comes back quickly after the restart.
        "CONSUMER_ACK_WAIT_SECONDS": "2",
        "SENDER_LEASE_SECONDS": "2",
        "SENDER_BATCH_SIZE": "8",
        "SENDER_POLL_SECONDS": "0.2",
        "MAIL_SENDER": settings.mail_sender,
        "ACTION_LINK_SECRET": settings.action_link_secret,
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
        "DATA_DIR": str(settings.data_dir),  # the sender's identity slots: this test's own
    }
    return {**os.environ, **values}


@contextmanager
def consumer_process(settings: NotificationsSettings) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "services.notifications", "consume"], cwd=ROOT, env=_environment(settings)
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def test_killed_mid_batch_then_restarted_loses_nothing(
    notifications_settings: NotificationsSettings,
    world: World,
    nats_client: NatsClient,
    stream: StreamSpec,
    sink: tuple[Any, SinkHandler],
) -> None:
    _, handler = sink
    handler.delay_seconds = 0.05  # a slow mail server: the kill lands while mails are being sent
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    events = [reminder_event(world, "overdue", step=f"overdue-{n}") for n in range(EVENTS)]
    for event in events:
        await publish(js, stream, event)
    with consumer_process(notifications_settings) as first:
        await wait_until(lambda: len(handler.all()) >= 5, "the first mails of the run")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    received_before_restart = len(handler.all())
    assert received_before_restart < 2 * EVENTS, (
        "the process was killed after it had finished: nothing tested"
    )
    with consumer_process(notifications_settings) as second:
        await wait_until(
            lambda: len({(m.message_id, m.to) for m in handler.all()}) == 2 * EVENTS,
            "every recipient's mail after the restart",
            timeout=120,
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    mails = handler.all()
    per_message_id = Counter(mail.message_id for mail in mails)
    assert len(per_message_id) == 2 * EVENTS
    assert max(per_message_id.values()) <= 2  # at most one duplicate, and it carries the same Message-ID
    assert sorted(Counter(mail.to for mail in mails).keys()) == sorted(
        [world.emails["liaison"], world.emails["deputy"]]
    )
    # Each recipient got one distinct mail (one Message-ID) per event.
    assert Counter(mail.to for mail in {m.message_id: m for m in mails}.values()) == {
        world.emails["liaison"]: EVENTS,
        world.emails["deputy"]: EVENTS,
    }
