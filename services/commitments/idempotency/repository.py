"""Queries of the Idempotency-Key records (one per caller and key)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.idempotency.models import IdempotencyRecord

Record = IdempotencyRecord  # shorter in the conditions below


async def get(session: AsyncSession, caller: str, key: str) -> IdempotencyRecord | None:
    return await session.get(IdempotencyRecord, (caller, key))


async def remove(session: AsyncSession, record: IdempotencyRecord) -> None:
    await session.delete(record)
    await session.flush()


async def take_over(
    session: AsyncSession,
    caller: str,
    key: str,
    request_hash: str,
    now: datetime,
    lease: timedelta,
) -> int | None:
    """Take over a request still « in progress » whose lease has run out (its replica died): one conditional
    UPDATE, so that of two retries at once only one gets the key. The new attempt number, or None when the key
    was answered, taken over by another retry, or is still leased."""
    taken = await session.execute(
        update(Record)
        .where(
            Record.caller_hash == caller,
            Record.key == key,
            Record.request_hash == request_hash,
            Record.status_code.is_(None),
            or_(
                Record.locked_until < now,
                # Written before leases: the lease ends `lease` after the record was created.
                and_(Record.locked_until.is_(None), Record.created_at < now - lease),
            ),
        )
        .values(attempt=Record.attempt + 1, locked_until=now + lease)
        .returning(Record.attempt)
        .execution_options(synchronize_session=False)
    )
    return taken.scalar_one_or_none()


async def complete(
    session: AsyncSession,
    caller: str,
    key: str,
    attempt: int,
    status_code: int,
    content_type: str | None,
    body: str,
) -> bool:
    """Record the answer of `attempt`; False when the key was taken over since (nothing written)."""
    result = await session.execute(
        update(Record)
        .where(*_held(caller, key, attempt))
        .values(status_code=status_code, content_type=content_type, body=body, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return _count(result) == 1


async def forget(session: AsyncSession, caller: str, key: str, attempt: int) -> bool:
    """Drop the key of `attempt` (nothing was done): a retry runs anew. False when it was taken over since."""
    result = await session.execute(
        delete(Record).where(*_held(caller, key, attempt)).execution_options(synchronize_session=False)
    )
    return _count(result) == 1


async def delete_older_than(session: AsyncSession, instant: datetime) -> int:
    result = await session.execute(
        delete(Record).where(Record.created_at < instant).execution_options(synchronize_session=False)
    )
    return _count(result)


def _held(caller: str, key: str, attempt: int) -> tuple[ColumnElement[bool], ...]:
    """The record is still « in progress » under `attempt`: not answered, not taken over since."""
    return (
        Record.caller_hash == caller,
        Record.key == key,
        Record.attempt == attempt,
        Record.status_code.is_(None),
    )


def _count(result: object) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount
