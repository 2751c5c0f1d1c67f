from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.deadlines.models import Deadline, DeadlineChange, DeadlineProposal


async def mark_met(session: AsyncSession, item_id: uuid.UUID, kinds: Sequence[str], on: date) -> None:
    await session.execute(
        update(Deadline)
        .where(Deadline.item_id == item_id, Deadline.kind.in_(kinds), Deadline.met_on.is_(None))
        .values(met_on=on)
    )


async def reopen(session: AsyncSession, item_id: uuid.UUID, kinds: Sequence[str]) -> None:
    await session.execute(
        update(Deadline).where(Deadline.item_id == item_id, Deadline.kind.in_(kinds)).values(met_on=None)
    )


async def get(session: AsyncSession, deadline_id: uuid.UUID) -> Deadline | None:
    return await session.get(Deadline, deadline_id)


async def list_for_item(session: AsyncSession, item_id: uuid.UUID) -> Sequence[Deadline]:
    query = select(Deadline).where(Deadline.item_id == item_id).order_by(Deadline.due_on, Deadline.id)
    return (await session.scalars(query)).all()


async def changes_of(session: AsyncSession, deadline_id: uuid.UUID) -> Sequence[DeadlineChange]:
    query = (
        select(DeadlineChange).where(DeadlineChange.deadline_id == deadline_id).order_by(DeadlineChange.id)
    )
    return (await session.scalars(query)).all()


async def get_proposal(session: AsyncSession, proposal_id: uuid.UUID) -> DeadlineProposal | None:
    return await session.get(DeadlineProposal, proposal_id)


async def proposals_for_item(session: AsyncSession, item_id: uuid.UUID) -> Sequence[DeadlineProposal]:
    query = (
        select(DeadlineProposal)
        .join(Deadline, Deadline.id == DeadlineProposal.deadline_id)
        .where(Deadline.item_id == item_id)
        .order_by(DeadlineProposal.id)
    )
    return (await session.scalars(query)).all()
