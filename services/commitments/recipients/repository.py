"""Queries behind "who to write to about an item"."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, Row, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.contacts.models import Contact
from services.commitments.deadlines.models import Deadline
from services.commitments.items.models import Item, ItemContact, ItemPartner
from services.commitments.partners.models import GroupMembership, Partner
from services.commitments.plans.models import Axis, Objective, Plan


async def item_frame(session: AsyncSession, item_id: uuid.UUID) -> Row[tuple[Plan, Axis, Objective]] | None:
    """The plan, axis and objective an item sits in."""
    query = (
        select(Plan, Axis, Objective)
        .join(Item, Item.objective_id == Objective.id)
        .join(Axis, Axis.id == Item.axis_id)
        .join(Plan, Plan.id == Item.plan_id)
        .where(Item.id == item_id)
    )
    return (await session.execute(query)).first()


async def get_plan(session: AsyncSession, plan_id: uuid.UUID) -> Plan | None:
    return await session.get(Plan, plan_id)


async def get_deadline(session: AsyncSession, deadline_id: uuid.UUID) -> Deadline | None:
    return await session.get(Deadline, deadline_id)


async def lead_partner(session: AsyncSession, item_id: uuid.UUID) -> Partner | None:
    query = (
        select(Partner)
        .join(ItemPartner, ItemPartner.partner_id == Partner.id)
        .where(ItemPartner.item_id == item_id, ItemPartner.role == "lead")
    )
    return (await session.scalars(query)).first()


async def members_of(session: AsyncSession, group_id: uuid.UUID) -> Sequence[Partner]:
    query = (
        select(Partner)
        .join(GroupMembership, GroupMembership.member_id == Partner.id)
        .where(GroupMembership.group_id == group_id)
        .order_by(Partner.name)
    )
    return (await session.scalars(query)).all()


def _reachable(today: date) -> list[ColumnElement[bool]]:
    """A contact one may write to today: not erased, with an email, within its period of activity."""
    return [
        Contact.erased_at.is_(None),
        Contact.email.is_not(None),
        or_(Contact.active_from.is_(None), Contact.active_from <= today),
        or_(Contact.active_to.is_(None), Contact.active_to >= today),
    ]


async def reachable_contacts(
    session: AsyncSession, partner_ids: Sequence[uuid.UUID], roles: Sequence[str], today: date
) -> Sequence[Contact]:
    if not partner_ids or not roles:
        return []
    query = (
        select(Contact)
        .where(Contact.partner_id.in_(list(partner_ids)), Contact.role.in_(list(roles)), *_reachable(today))
        .order_by(Contact.partner_id, Contact.last_name, Contact.id)
    )
    return (await session.scalars(query)).all()


async def reachable_contact(
    session: AsyncSession, contact_id: uuid.UUID | None, today: date
) -> Contact | None:
    if contact_id is None:
        return None
    return (
        await session.scalars(select(Contact).where(Contact.id == contact_id, *_reachable(today)))
    ).first()


async def designated_contacts(session: AsyncSession, item_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID]:
    """partner id -> the contact designated for this item."""
    query = select(ItemContact.partner_id, ItemContact.contact_id).where(ItemContact.item_id == item_id)
    return dict((await session.execute(query)).tuples().all())


async def designation(session: AsyncSession, item_id: uuid.UUID, partner_id: uuid.UUID) -> ItemContact | None:
    return await session.get(ItemContact, (item_id, partner_id))


async def partner_names(session: AsyncSession, partner_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not partner_ids:
        return {}
    query = select(Partner.id, Partner.name).where(Partner.id.in_(list(partner_ids)))
    return dict((await session.execute(query)).tuples().all())


async def is_member_or_self(session: AsyncSession, partner_id: uuid.UUID, of: uuid.UUID) -> bool:
    """Whether `partner_id` is `of` itself or one of its group's members."""
    if partner_id == of:
        return True
    query = select(GroupMembership.member_id).where(
        and_(GroupMembership.group_id == of, GroupMembership.member_id == partner_id)
    )
    return (await session.scalars(query)).first() is not None
