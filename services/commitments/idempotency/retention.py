"""How long Idempotency-Key records are kept, and their purge: the scanner process runs `purge_periodically`
(every IDEMPOTENCY_PURGE_SECONDS, services/commitments/workers/scanner.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.commitments.idempotency import repository
from shared.clock import Clock

logger = logging.getLogger(__name__)
RETENTION = timedelta(hours=24)


async def purge_expired(session: AsyncSession, clock: Clock) -> int:
    """Drop records older than the retention period; how many were dropped."""
    return await repository.delete_older_than(session, clock.now() - RETENTION)


async def purge_periodically(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, stop: asyncio.Event, every_seconds: float
) -> None:
    """Purge now, then every `every_seconds`, until `stop` is set; a failed purge (database away) is logged and
    tried again at the next turn."""
    while not stop.is_set():
        try:
            async with sessionmaker() as session, session.begin():
                purged = await purge_expired(session, clock)
            if purged:
                logger.info("%d expired Idempotency-Key record(s) purged", purged)
        except Exception:  # the next turn tries again; the records only wait a little longer
            logger.exception("purge of the expired Idempotency-Key records failed, will retry")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
