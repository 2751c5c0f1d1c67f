"""What the relay had to publish: the outbox rows, and the ids the relay tests compare between the stream and the
outbox (each message's Nats-Msg-Id, what JetStream deduplicates on, and each row's event id)."""

from __future__ import annotations

from nats.js.api import RawStreamMsg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.commitments.outbox.models import OutboxMessage


async def outbox_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    """The outbox, oldest first."""
    async with sessionmaker() as session, session.begin():
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.position))).all())


def message_ids(messages: list[RawStreamMsg]) -> list[str]:
    return [(message.headers or {}).get("Nats-Msg-Id", "") for message in messages]


def event_ids(rows: list[OutboxMessage]) -> list[str]:
    return [str(row.event_id) for row in rows]
