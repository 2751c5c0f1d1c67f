"""The notifications worker (consumer, sender, digest) running in this process for a test, and what it recorded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import select

from services.notifications.config import NotificationsSettings
from services.notifications.consumer import Worker, worker
from services.notifications.deliveries.models import Delivery
from shared.clock import SystemClock


@contextlib.asynccontextmanager
async def running(settings: NotificationsSettings) -> AsyncIterator[Worker]:
    """The worker (consumer, sender, digest) running in this process until the block ends."""
    stop = asyncio.Event()
    async with worker(settings, SystemClock()) as running_worker:
        task = asyncio.create_task(running_worker.run(stop))
        try:
            yield running_worker
        finally:
            stop.set()
            await task


async def deliveries(running_worker: Worker) -> list[Delivery]:
    """Every delivery row, oldest first."""
    async with running_worker.sessionmaker() as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


async def consumer_drained(running_worker: Worker) -> bool:
    """Whether the consumer has acknowledged every message of its stream."""
    if running_worker.consumer.subscription is None:  # the worker has not subscribed yet
        return False
    info = await running_worker.consumer.subscription.consumer_info()
    return info.num_pending == 0 and info.num_ack_pending == 0


async def have_statuses(running_worker: Worker, expected: set[str]) -> bool:
    """Whether there are deliveries and their statuses are exactly `expected`."""
    rows = await deliveries(running_worker)
    return bool(rows) and {row.status for row in rows} == expected
