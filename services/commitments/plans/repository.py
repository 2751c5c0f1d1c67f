from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.contacts.models import Contact
from services.commitments.items.lifecycle import Status
from services.commitments.items.models import Item
from services.commitments.plans.models import Axis, Objective, Plan, PlanImport


async def get(session: AsyncSession, plan_id: uuid.UUID) -> Plan | None:
    return await session.get(Plan, plan_id)


async def get_contact(session: AsyncSession, contact_id: uuid.UUID) -> Contact | None:
    """The elected official a plan names (a contact)."""
    return await session.get(Contact, contact_id)


async def import_of(session: AsyncSession, text_sha256: str) -> PlanImport | None:
    """The import of the text with this fingerprint, if it was imported."""
    return (
        await session.scalars(select(PlanImport).where(PlanImport.text_sha256 == text_sha256))
    ).one_or_none()


async def imported_items(session: AsyncSession, plan_id: uuid.UUID) -> Sequence[tuple[str | None, str]]:
    """(reference, text) of every item of the plan."""
    query = select(Item.source_key, Item.plan_text).where(Item.plan_id == plan_id)
    return [(key, text) for key, text in (await session.execute(query)).all()]


async def list_plans(session: AsyncSession) -> Sequence[Plan]:
    return (await session.scalars(select(Plan).order_by(Plan.id))).all()


async def get_axis(session: AsyncSession, axis_id: uuid.UUID) -> Axis | None:
    return await session.get(Axis, axis_id)


async def get_objective(session: AsyncSession, objective_id: uuid.UUID) -> Objective | None:
    return await session.get(Objective, objective_id)


async def axes_of(session: AsyncSession, plan_id: uuid.UUID) -> Sequence[Axis]:
    return (await session.scalars(select(Axis).where(Axis.plan_id == plan_id).order_by(Axis.position))).all()


async def objectives_of(session: AsyncSession, plan_id: uuid.UUID) -> Sequence[Objective]:
    query = select(Objective).where(Objective.plan_id == plan_id).order_by(Objective.position)
    return (await session.scalars(query)).all()


async def item_progress(
    session: AsyncSession, plan_id: uuid.UUID
) -> Sequence[tuple[uuid.UUID, uuid.UUID, int, int]]:
    """Per objective: (axis, objective, number of live items, sum of their progress)."""
    query = (
        select(
            Item.axis_id,
            Item.objective_id,
            func.count(Item.id),
            func.coalesce(func.sum(func.coalesce(Item.progress_percent, 0)), 0),
        )
        .where(Item.plan_id == plan_id, Item.status != Status.ABANDONED.value)
        .group_by(Item.axis_id, Item.objective_id)
    )
    return [(a, o, int(n), int(s)) for a, o, n, s in (await session.execute(query)).all()]
