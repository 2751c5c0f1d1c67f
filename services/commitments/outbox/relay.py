"""The outbox relay of the commitments service: shared/outbox/relay.py bound to its `outbox` table."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.commitments.outbox.models import OutboxMessage
from shared.clock import Clock
from shared.outbox import relay
from shared.outbox.relay import RelayStats, ping_relays

__all__ = ["OutboxRelay", "RelayStats", "outbox_lag", "ping_relays"]


class OutboxRelay(relay.OutboxRelay):
    model = OutboxMessage


async def outbox_lag(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> dict[str, float | int]:
    """How many outbox rows the relays have yet to publish, and the age of the oldest (shared/outbox/relay.py)."""
    return await relay.outbox_lag(sessionmaker, OutboxMessage, clock)
