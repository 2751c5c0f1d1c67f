"""A crash costs little, with real processes: the commitments service (`python -m services.commitments serve`),
the notifications worker (`python -m services.notifications consume`, default settings: 4 SMTP connections,
batches of 100, a 120 s lease, its identity a slot of its DATA_DIR), the real nats-server and a real SMTP server
(aiosmtpd) that keeps every message. The worker is killed with SIGKILL three times while 240 mails go out, and
started again each time. Every mail arrives; each kill costs at most one duplicate per SMTP connection (the same
Message-ID twice), never a batch; the restarted worker takes back its claims at once rather than after the lease.

The time from each kill to the first mail sent again after the restart is measured and printed (run with -s),
not asserted: it depends on the machine (most of it is the new process starting)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.config import NotificationsSettings
from services.notifications.deliveries.models import Delivery, SenderWorker
from services.notifications.outbox.models import OutboxMessage
from shared.bus import StreamSpec, ensure_stream
from shared.db import create_engine, create_sessionmaker
from tests.services.notifications.served_commitments import ROOT, Commitments, commitments_process
from tests.services.notifications.world import World, publish, reminder_event, seed_world, send_items
from tests.smtp_sink import SinkHandler, smtp_sink
from tests.waiting import wait_until

EVENTS = 120  # × 2 recipients (the liaison and the deputy)
MAILS = 2 * EVENTS
CONNECTIONS = NotificationsSettings().smtp_connections
# Mails received (in total) before each of the three kills.
KILL_AFTER = (40, 100, 160)

pytestmark = pytest.mark.slow


@pytest.fixture
async def served(
    database_url: str, nats_url: str, stream: StreamSpec, tmp_path: Path
) -> AsyncIterator[Commitments]:
    async with commitments_process(
        database_url, nats_url, stream, tmp_path / "commitments", empty_tables_after=True
    ) as commitments:
        yield commitments


@pytest.fixture
async def notifications(notifications_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(notifications_database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        async with engine.begin() as connection:
            await connection.execute(delete(Delivery))
            await connection.execute(delete(SenderWorker))
            await connection.execute(delete(OutboxMessage))  # the events of the outcomes it recorded
        await engine.dispose()


def _environment(
    commitments: Commitments,
    database_url: str,
    nats_url: str,
    stream: StreamSpec,
    smtp_port: int,
    data_dir: Path,
) -> dict[str, str]:
    return {
        **os.environ,
        "NOTIFICATIONS_DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "EVENTS_STREAM": stream.name,
        "EVENTS_SUBJECT_PREFIX": stream.subject_prefix,
        "NOTIFICATIONS_EVENTS_STREAM": f"{stream.name}_EV",
        "NOTIFICATIONS_EVENTS_SUBJECT_PREFIX": f"{stream.subject_prefix}ev",
        "COMMITMENTS_URL": commitments.url,
        "COMMITMENTS_API_KEY": commitments.service_secret,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "CONSUMER_DURABLE": f"crash_{uuid.uuid4().hex[:8]}",
        "MAIL_SENDER": "Ville de Sceaux <engagements@sceaux.example>",
        "ACTION_LINK_SECRET": "test-secret",
        "DATA_DIR": str(data_dir),
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def worker_process(environment: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "services.notifications", "consume"], cwd=ROOT, env=environment
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@dataclass
class Kill:
    at: float  # time.monotonic() of the SIGKILL
    received_before: int  # messages the server had accepted by then
    claimed: set[str]  # Message-IDs of the deliveries the killed worker still held


async def _count(sessionmaker: async_sessionmaker[AsyncSession], *where: object) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0)


def _counts(sessionmaker: async_sessionmaker[AsyncSession], expected: int, *where: object):  # type: ignore[no-untyped-def]
    async def reached() -> bool:
        return await _count(sessionmaker, *where) == expected

    return reached


async def _held(sessionmaker: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessionmaker() as session:
        return set(
            (
                await session.scalars(
                    select(Delivery.message_id).where(
                        Delivery.status == "pending", Delivery.claimed_by.is_not(None)
                    )
                )
            ).all()
        )


async def test_three_kills_during_240_mails_cost_at_most_one_duplicate_per_connection(
    served: Commitments,
    notifications: async_sessionmaker[AsyncSession],
    notifications_database_url: str,
    nats_url: str,
    stream: StreamSpec,
    nats_client: NatsClient,
    tmp_path: Path,
) -> None:
    world: World = await seed_world(served)
    await send_items(served, world, "item")
    js = nats_client.jetstream()
    await ensure_stream(js, stream)
    for number in range(EVENTS):
        await publish(js, stream, reminder_event(world, "overdue", step=f"overdue-{number}"))
    handler = SinkHandler(delay_seconds=0.05)  # a mail server taking its time: kills land while mails are out
    kills: list[Kill] = []
    restarts: list[float] = []
    with smtp_sink(handler) as (controller, _):
        environment = _environment(
            served, notifications_database_url, nats_url, stream, controller.port, tmp_path / "worker"
        )
        for threshold in KILL_AFTER:
            restarts.append(time.monotonic())
            with worker_process(environment) as process:
                await wait_until(
                    _counts(notifications, MAILS), "every event recorded as deliveries", timeout=120
                )
                await wait_until(
                    lambda threshold=threshold: len(handler.all()) >= threshold,  # type: ignore[misc]
                    f"{threshold} mails received",
                    timeout=120,
                )
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                kills.append(Kill(time.monotonic(), len(handler.all()), await _held(notifications)))
        restarts.append(time.monotonic())
        with worker_process(environment) as process:
            await wait_until(
                lambda: len({mail.message_id for mail in handler.all()}) == MAILS,
                "every mail after the last restart",
                timeout=120,
            )
            await wait_until(
                _counts(notifications, MAILS, Delivery.status == "sent"),
                "every delivery recorded as sent",
                timeout=60,
            )
            process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(process.wait, 30) == 0
        mails, times = handler.all(), list(handler.received_at)

    ids = [mail.message_id for mail in mails]
    assert len(set(ids)) == MAILS  # every mail arrived
    assert all(kill.received_before < MAILS for kill in kills), (
        "a kill came after the last mail: nothing tested"
    )
    assert Counter(mail.to for mail in {mail.message_id: mail for mail in mails}.values()) == {
        world.emails["liaison"]: EVENTS,
        world.emails["deputy"]: EVENTS,
    }
    print(f"\n{MAILS} mails, {CONNECTIONS} SMTP connections, 3 kills; {len(ids) - MAILS} duplicates in all")
    copies = Counter(ids)
    first_received = {message_id: index for index, message_id in reversed(list(enumerate(ids)))}
    for number, kill in enumerate(kills):
        start = kills[number - 1].received_before if number else 0
        # A mail the server accepted from the run this kill ended, and again later: it was sent and not yet
        # recorded as sent when the kill came. The copy goes under the same Message-ID.
        duplicates = {
            message_id
            for message_id, index in first_received.items()
            if start <= index < kill.received_before and copies[message_id] > 1
        }
        assert len(duplicates) <= CONNECTIONS, (number + 1, duplicates)
        after = range(kill.received_before, len(ids))
        resent = [times[index] for index in after if ids[index] in kill.claimed]
        first_mail = times[kill.received_before] if kill.received_before < len(times) else None
        print(
            f"kill {number + 1} after {kill.received_before} mails: the worker held {len(kill.claimed)} deliveries, "
            f"{len(duplicates)} sent twice; restart → first mail "
            f"{(first_mail - restarts[number + 1]) if first_mail else float('nan'):.2f} s; kill → first of its "
            f"claims sent again {(resent[0] - kill.at) if resent else float('nan'):.2f} s"
        )
