"""Queries of the Idempotency-Key records (one per caller and key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.idempotency.models import IdempotencyRecord


async def get(session: AsyncSession, caller: str, key: str) -> IdempotencyRecord | None:
    return await session.get(IdempotencyRecord, (caller, key))


async def remove(session: AsyncSession, record: IdempotencyRecord) -> None:
    await session.delete(record)
    await session.flush()


async def forget(session: AsyncSession, caller: str, key: str) -> None:
    await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.caller_hash == caller, IdempotencyRecord.key == key)
    )


async def delete_older_than(session: AsyncSession, instant: datetime) -> None:
    await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < instant))
