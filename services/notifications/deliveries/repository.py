"""Queries on deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, Update, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.deliveries.models import Delivery, DeliveryStatus, SenderWorker
from shared.db import insert_ignoring_conflicts


@dataclass(frozen=True)
class DeliveryFilters:
    item_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    status: DeliveryStatus | None = None
    # A partner key: only these partners' deliveries.
    visible_partner_ids: frozenset[uuid.UUID] | None = None


async def get(session: AsyncSession, delivery_id: uuid.UUID) -> Delivery | None:
    return await session.get(Delivery, delivery_id)


async def list_page(
    session: AsyncSession, filters: DeliveryFilters, after: uuid.UUID | None, limit: int
) -> Sequence[Delivery]:
    """Newest first; `after` is the last id of the previous page (ids are time-ordered)."""
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if filters.item_id is not None:
        query = query.where(Delivery.item_id == filters.item_id)
    if filters.partner_id is not None:
        query = query.where(Delivery.partner_id == filters.partner_id)
    if filters.status is not None:
        query = query.where(Delivery.status == filters.status.value)
    if filters.visible_partner_ids is not None:
        query = query.where(Delivery.partner_id.in_(filters.visible_partner_ids))
    if after is not None:
        query = query.where(Delivery.id < after)
    return (await session.scalars(query)).all()


@dataclass(frozen=True)
class ClaimedDelivery:
    """What the sender reads of a delivery it claimed: the columns it renders and fences with, not the whole row."""

    id: uuid.UUID
    kind: str
    event: dict[str, Any] | None
    contact_id: uuid.UUID
    message_id: str
    attempts: int
    trace_context: dict[str, str] | None


@dataclass(frozen=True)
class Holder:
    """Who holds a claim: a sender worker's identity and the generation it runs under (deliveries/claims.py)."""

    worker_id: str
    generation: int


def _held_by(holder: Holder) -> list[ColumnElement[bool]]:
    return [
        Delivery.status == DeliveryStatus.PENDING.value,
        Delivery.claimed_by == holder.worker_id,
        Delivery.claim_generation == holder.generation,
    ]


def _update() -> Update:
    # Bulk statements: the session's objects, if any, are not refreshed from them.
    return update(Delivery).execution_options(synchronize_session=False)


async def claim_due(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int, skip_locked: bool, holder: Holder
) -> list[ClaimedDelivery]:
    """Claim the oldest pending deliveries whose time has come, at most `limit`, for `holder`: push their next
    attempt to the end of the lease (should this worker never come back, any sender takes them then) and count
    the attempt, in one statement that returns what the sender needs of them, by id. On PostgreSQL rows another
    sender is claiming are skipped instead of waited for."""
    due = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.PENDING.value, Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    result = await session.execute(
        _update()
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(
            next_attempt_at=lease_until,
            attempts=Delivery.attempts + 1,
            updated_at=now,
            claimed_by=holder.worker_id,
            claim_generation=holder.generation,
        )
        .returning(
            Delivery.id,
            Delivery.kind,
            Delivery.event,
            Delivery.contact_id,
            Delivery.message_id,
            Delivery.attempts,
            Delivery.trace_context,
        )
    )
    return sorted((ClaimedDelivery(*row) for row in result), key=lambda row: row.id)


async def renew_lease(
    session: AsyncSession, ids: Sequence[uuid.UUID], holder: Holder, renewed: datetime
) -> set[uuid.UUID]:
    """Extend the lease of the rows `holder` still holds (the others are done, or not its own any more); returns
    the ids of the rows renewed."""
    result = await session.execute(
        _update()
        .where(Delivery.id.in_(ids), *_held_by(holder))
        .values(next_attempt_at=renewed)
        .returning(Delivery.id)
    )
    return set(result.scalars())


async def _release(session: AsyncSession, now: datetime, *where: ColumnElement[bool]) -> int:
    # Due again at once, and back in their place in the queue: as of when they were first due (retry_since: when
    # they were written, or resent), which is their own due time on a first attempt, and before their claim.
    result = await session.execute(
        _update()
        .where(*where)
        .values(next_attempt_at=Delivery.retry_since, claimed_by=None, claim_generation=None, updated_at=now)
        .returning(Delivery.id)
    )
    return len(result.all())


async def release(session: AsyncSession, ids: Sequence[uuid.UUID], holder: Holder, now: datetime) -> int:
    """Give back rows `holder` claimed and did not send: due again at once, for any sender."""
    return await _release(session, now, Delivery.id.in_(ids), *_held_by(holder))


async def release_earlier_generations(session: AsyncSession, holder: Holder, now: datetime) -> int:
    """Give back every row still claimed under this worker identity by a generation before `holder`'s (a
    process of it that died): due again at once. Returns how many."""
    return await _release(
        session,
        now,
        Delivery.claimed_by == holder.worker_id,
        Delivery.status == DeliveryStatus.PENDING.value,
        Delivery.claim_generation < holder.generation,
    )


async def next_generation(session: AsyncSession, worker_id: str, now: datetime) -> int:
    """Register one more start of this worker identity; returns its new generation (1 the first time)."""
    await session.execute(
        insert_ignoring_conflicts(session, SenderWorker.__table__, "worker_id"),
        [{"worker_id": worker_id, "generation": 0, "started_at": now}],
    )
    result = await session.execute(
        update(SenderWorker)
        .where(SenderWorker.worker_id == worker_id)
        .values(generation=SenderWorker.generation + 1, started_at=now)
        .returning(SenderWorker.generation)
        .execution_options(synchronize_session=False)
    )
    return int(result.scalar_one())


async def current_generation(session: AsyncSession, worker_id: str) -> int | None:
    """The latest generation started under this worker identity."""
    return (
        await session.execute(select(SenderWorker.generation).where(SenderWorker.worker_id == worker_id))
    ).scalar()


async def still_claimed(
    session: AsyncSession, ids: Sequence[uuid.UUID], holder: Holder, for_update: bool
) -> Sequence[Delivery]:
    """The rows `holder` still holds (the caller checks the attempt number too); locked on PostgreSQL so that
    no other sender claims them before the outcome is committed."""
    query = (
        select(Delivery)
        .where(
            Delivery.id.in_(ids),
            Delivery.status == DeliveryStatus.PENDING.value,
            Delivery.claimed_by == holder.worker_id,
            Delivery.claim_generation == holder.generation,
        )
        .order_by(Delivery.id)
    )
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).all()


async def cancel_parts(
    session: AsyncSession, digest_id: uuid.UUID, reasons: dict[uuid.UUID, str], now: datetime
) -> None:
    """Cancel reminders of a digest that were no longer current when it was sent, each with its reason."""
    for row in await by_ids(session, list(reasons)):
        if row.digest_id == digest_id and row.status == DeliveryStatus.DIGESTED.value:
            row.status, row.last_error, row.updated_at = (
                DeliveryStatus.CANCELLED.value,
                reasons[row.id][:1000],
                now,
            )


def _mark_sent_statement() -> Update:
    # On the table (Core), not the entity: nothing in the session is to be synchronised, and the ORM's bulk
    # update path would cost more than the statement at every outcome commit.
    table = cast(Table, Delivery.__table__)
    deliveries, now = table.c, bindparam("sent_now", type_=Delivery.__table__.c.sent_at.type)
    return (
        update(table)
        .where(
            deliveries.id.in_(bindparam("sent_ids", expanding=True)),
            deliveries.status == DeliveryStatus.PENDING.value,
            deliveries.claimed_by == bindparam("held_by"),
            deliveries.claim_generation == bindparam("held_generation"),
            deliveries.attempts == bindparam("held_attempts"),
        )
        .values(
            status=DeliveryStatus.SENT.value,
            sent_at=now,
            next_attempt_at=None,
            claimed_by=None,
            claim_generation=None,
            last_error=None,
            updated_at=now,
        )
        .returning(deliveries.id, deliveries.partner_id)
    )


# Built once, run at every outcome commit: neither the statement nor its cache key is built again for each.
_MARK_SENT = _mark_sent_statement()


async def mark_sent(
    session: AsyncSession, ids: Sequence[uuid.UUID], now: datetime, holder: Holder, attempts: int
) -> dict[uuid.UUID, uuid.UUID | None]:
    """Record that these deliveries went out at `now`, on the rows `holder` still holds at this attempt; returns
    the rows marked (id: partner id)."""
    if not ids:
        return {}
    result = await session.execute(
        _MARK_SENT,
        {
            "sent_ids": list(ids),
            "sent_now": now,
            "held_by": holder.worker_id,
            "held_generation": holder.generation,
            "held_attempts": attempts,
        },
    )
    return {row.id: row.partner_id for row in result}


async def by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> Sequence[Delivery]:
    return (await session.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id))).all()


async def held_for_digest(
    session: AsyncSession, before: datetime, limit: int, skip_locked: bool = False
) -> Sequence[Delivery]:
    """Reminders held for a digest since before `before`, by contact; on PostgreSQL the rows another digest
    pass is gathering are skipped (they would otherwise be attached twice)."""
    query = (
        select(Delivery)
        .where(Delivery.status == DeliveryStatus.HELD.value, Delivery.created_at < before)
        .order_by(Delivery.contact_id, Delivery.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return (await session.scalars(query)).all()


async def in_digest(session: AsyncSession, digest_id: uuid.UUID) -> Sequence[Delivery]:
    return (
        await session.scalars(select(Delivery).where(Delivery.digest_id == digest_id).order_by(Delivery.id))
    ).all()


async def by_key(
    session: AsyncSession, event_id: uuid.UUID, contact_id: uuid.UUID, channel: str, for_update: bool = False
) -> Delivery:
    query = select(Delivery).where(
        Delivery.event_id == event_id, Delivery.contact_id == contact_id, Delivery.channel == channel
    )
    if for_update:
        query = query.with_for_update()
    # populate_existing: a row this session saw before another transaction changed it is read again.
    return (await session.scalars(query.execution_options(populate_existing=True))).one()


async def insert_ignoring_duplicates(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert delivery rows; one whose (event, contact, channel) exists already is skipped, whoever wrote it
    (a redelivered event, or another replica handling the same one at the same moment)."""
    if rows:
        await session.execute(
            insert_ignoring_conflicts(session, Delivery.__table__, "event_id", "contact_id", "channel"), rows
        )


async def by_message_id(session: AsyncSession, message_id: str, for_update: bool = False) -> Delivery | None:
    """The delivery sent under this Message-ID (angle brackets included, as the header writes it)."""
    query = select(Delivery).where(Delivery.message_id == message_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).first()
