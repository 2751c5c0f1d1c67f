"""Which sender worker holds which deliveries, for how long, and what a worker takes back when it restarts
(the design, with what a crash costs: docs/notifications-sender.md).

- Identity: SENDER_WORKER_ID, or "<host name>/<slot>", the slot a lock file in DATA_DIR/sender-slots/ that the
  kernel frees when its process dies: a worker restarted on the same host gets the crashed one's identity, never
  a live one's.
- Generation: each start under an identity counts one more (table sender_workers). A starting worker releases
  at once what earlier generations of its identity still hold; before each claim it checks it is still the latest
  (a second live process under its identity makes it stop sending).
- Lease: for a worker that never comes back, any sender takes its rows when the lease lapses.
- Fence: an outcome is recorded only on a row still held under the same identity, generation and attempt.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.deliveries import repository
from services.notifications.deliveries.models import Delivery, DeliveryKind
from services.notifications.deliveries.repository import ClaimedDelivery, Holder
from shared.clock import Clock

logger = logging.getLogger(__name__)


class IdentityTaken(Exception):
    """Another process started under this worker's identity since it did."""


@contextlib.contextmanager
def worker_identity(configured: str | None, data_dir: Path) -> Iterator[str]:
    """The identity of this process's sender worker, held until the block ends (see the module's docstring)."""
    if configured:
        yield configured
        return
    folder = data_dir / "sender-slots"
    folder.mkdir(parents=True, exist_ok=True)
    lock: TextIO | None = None
    for slot in itertools.count():
        lock = open(folder / f"{slot}.lock", "a")  # noqa: SIM115 - held open for as long as the identity
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a live worker of this host holds this slot
            lock.close()
            continue
        break
    try:
        yield f"{socket.gethostname()}/{slot}"
    finally:
        assert lock is not None
        lock.close()  # the lock goes with the file


@dataclass
class Claim:
    """A batch this worker holds: the rows (with their attempt number as claimed, part of the fence), the end of
    their lease, and the reminders gathered in each digest."""

    rows: list[ClaimedDelivery]
    holder: Holder
    lease_until: datetime
    digest_parts: dict[uuid.UUID, list[Delivery]] = field(default_factory=dict)


class Claims:
    """This worker's claims on the deliveries table."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        worker_id: str,
        lease: timedelta,
        batch_size: int,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.worker_id = worker_id
        self.lease = lease
        self.batch_size = batch_size
        self.holder: Holder | None = None

    async def start(self) -> int:
        """Start a new generation of this worker and release what earlier ones still held; returns how many rows."""
        now = self.clock.now()
        async with self.sessionmaker() as session, session.begin():
            holder = Holder(self.worker_id, await repository.next_generation(session, self.worker_id, now))
            released = await repository.release_earlier_generations(session, holder, now)
        self.holder = holder
        if released:
            logger.warning(
                "sender %s (generation %d) took back %d deliveries its previous run had claimed",
                holder.worker_id,
                holder.generation,
                released,
            )
        return released

    async def claim(self) -> Claim | None:
        """Claim a batch of due deliveries (committed before anything is sent); None when none is due."""
        if self.holder is None:
            await self.start()
        assert self.holder is not None
        now = self.clock.now()
        lease_until = now + self.lease
        async with self.sessionmaker() as session, session.begin():
            if await repository.current_generation(session, self.worker_id) != self.holder.generation:
                raise IdentityTaken(self.worker_id)
            skip_locked = session.bind.dialect.name == "postgresql"
            rows = await repository.claim_due(
                session, now, lease_until, self.batch_size, skip_locked, self.holder
            )
            if not rows:
                return None
            digest_parts = {
                row.id: list(await repository.in_digest(session, row.id))
                for row in rows
                if row.kind == DeliveryKind.DIGEST
            }
        return Claim(rows, self.holder, lease_until, digest_parts)

    async def renew(self, claim: Claim) -> None:
        """Push the lease of the rows of `claim` still held to a full lease from now."""
        renewed = self.clock.now() + self.lease
        async with self.sessionmaker() as session, session.begin():
            await repository.renew_lease(session, [row.id for row in claim.rows], claim.holder, renewed)
        claim.lease_until = renewed

    async def release(self, claim: Claim, rows: list[ClaimedDelivery]) -> None:
        """Give back rows of `claim` this worker will not send (it is stopping): due again at once."""
        if not rows:
            return
        async with self.sessionmaker() as session, session.begin():
            await repository.release(session, [row.id for row in rows], claim.holder, self.clock.now())
