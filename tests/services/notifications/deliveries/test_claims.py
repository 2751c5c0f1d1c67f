"""Claims by worker identity (SQLite and PostgreSQL): a worker restarted under its identity takes back at once
what its previous run held, never what another live worker holds; a second process under the same identity
stops the first; the default identity is a slot that a dead process frees and a live one keeps; a sender asked
to stop gives back the rows it did not send."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.commitments_client import CommitmentsClient
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import repository, service
from services.notifications.deliveries.claims import Claims, IdentityTaken, worker_identity
from services.notifications.deliveries.models import Delivery, DeliveryKind, SenderWorker
from services.notifications.deliveries.outcomes import Attempt, OutcomeRecorder
from services.notifications.deliveries.sender import DeliverySender
from services.notifications.outbox.models import OutboxMessage
from services.notifications.smtp import SendResult, SmtpPool
from shared.clock import FixedClock
from shared.db import create_engine, create_sessionmaker

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=120)


@pytest.fixture
async def sessionmaker(notifications_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(notifications_database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        async with engine.begin() as connection:
            await connection.execute(delete(Delivery))
            await connection.execute(delete(SenderWorker))
            await connection.execute(delete(OutboxMessage))
        await engine.dispose()


async def _due_rows(sessionmaker: async_sessionmaker[AsyncSession], count: int) -> list[uuid.UUID]:
    rows = [
        service.new_row(
            event_id=uuid.uuid4(),
            contact_id=uuid.uuid4(),
            kind=DeliveryKind.REMINDER,
            event_type="deadline.due",
            event={"id": str(uuid.uuid4())},
            item_id=uuid.uuid4(),
            deadline_id=uuid.uuid4(),
            partner_id=uuid.uuid4(),
            audience="liaison",
            held=False,
            now=NOW,
            domain="sceaux.example",
        )
        for _ in range(count)
    ]
    async with sessionmaker() as session, session.begin():
        await repository.insert_ignoring_duplicates(session, rows)
    return sorted(row["id"] for row in rows)


async def _rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Delivery]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


def _claims(sessionmaker: async_sessionmaker[AsyncSession], worker_id: str, clock: FixedClock) -> Claims:
    return Claims(sessionmaker, clock, worker_id, LEASE, batch_size=100)


async def test_a_restarted_worker_takes_back_its_own_claims_at_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _due_rows(sessionmaker, 3)
    clock = FixedClock(NOW)
    crashed = _claims(sessionmaker, "host/0", clock)
    claim = await crashed.claim()
    assert claim is not None and [row.id for row in claim.rows] == ids
    # The process dies; a few seconds later one starts under the same identity, long before the lease ends.
    clock.advance(timedelta(seconds=3))
    restarted = _claims(sessionmaker, "host/0", clock)
    assert await restarted.start() == 3
    # Due again at once, as of when they were first due: back in their place in the queue.
    assert [(row.next_attempt_at, row.claimed_by) for row in await _rows(sessionmaker)] == [(NOW, None)] * 3
    again = await restarted.claim()
    assert again is not None and [row.id for row in again.rows] == ids
    assert (again.holder.generation, [row.attempts for row in again.rows]) == (
        claim.holder.generation + 1,
        [2] * 3,
    )
    # Had the first run lived on, what it records now lands nowhere: the rows are the new run's.
    recorder = OutcomeRecorder(sessionmaker, NotificationsSettings(), clock, lambda: None)
    await recorder.record(claim, claim.rows[0], Attempt(SendResult.SENT, "250"))
    assert {(row.status, row.claimed_by, row.claim_generation) for row in await _rows(sessionmaker)} == {
        ("pending", "host/0", again.holder.generation)
    }


async def test_a_worker_never_takes_the_claims_of_another_live_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _due_rows(sessionmaker, 2)
    clock = FixedClock(NOW)
    first = _claims(sessionmaker, "host/0", clock)
    assert await first.claim() is not None
    other = _claims(sessionmaker, "host/1", clock)
    assert await other.start() == 0
    assert await other.claim() is None
    assert {row.claimed_by for row in await _rows(sessionmaker)} == {"host/0"}
    # Unless the first never comes back: its lease lapses, and any worker sends its rows.
    clock.advance(LEASE + timedelta(seconds=1))
    taken = await other.claim()
    assert taken is not None and len(taken.rows) == 2


async def test_a_second_process_under_the_same_identity_stops_the_first(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _due_rows(sessionmaker, 1)
    clock = FixedClock(NOW)
    first = _claims(sessionmaker, "replica-a", clock)
    await first.start()
    await _claims(
        sessionmaker, "replica-a", clock
    ).start()  # a second replica given the same SENDER_WORKER_ID
    with pytest.raises(IdentityTaken):
        await first.claim()
    assert {row.claimed_by for row in await _rows(sessionmaker)} == {None}


def test_the_default_identity_is_a_slot_a_dead_process_frees(tmp_path: Path) -> None:
    with worker_identity(None, tmp_path) as first, worker_identity(None, tmp_path) as second:
        assert first.endswith("/0") and second.endswith("/1")
    # Another process takes slot 0 and is killed with SIGKILL: the kernel frees its lock, the slot is free again.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; sys.path.insert(0, '.');"
                "from services.notifications.deliveries.claims import worker_identity;"
                f"identity = worker_identity(None, __import__('pathlib').Path({str(tmp_path)!r}));"
                "print(identity.__enter__(), flush=True); time.sleep(60)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[4],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip().endswith("/0")
        with worker_identity(None, tmp_path) as live:
            assert live.endswith("/1")  # slot 0 is held by a live process
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        with worker_identity(None, tmp_path) as after_the_crash:
            assert after_the_crash.endswith("/0")
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    with worker_identity("configured", tmp_path) as configured:
        assert configured == "configured"


async def test_a_sender_asked_to_stop_gives_back_what_it_did_not_send(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _due_rows(sessionmaker, 3)
    clock = FixedClock(NOW + timedelta(seconds=5))
    settings = NotificationsSettings(action_link_secret="test-secret")
    stop = asyncio.Event()
    stop.set()  # SIGTERM came while the batch was being claimed
    commitments = CommitmentsClient.from_settings(settings)
    try:
        sender = DeliverySender(sessionmaker, settings, clock, commitments, SmtpPool(settings), "host/0")
        assert await sender.send_due(stop) == 3
    finally:
        await commitments.aclose()
    # Due at once for whichever worker comes next, not at the end of a lease.
    assert [
        (row.id, row.status, row.claimed_by, row.next_attempt_at) for row in await _rows(sessionmaker)
    ] == [(row_id, "pending", None, NOW) for row_id in ids]
