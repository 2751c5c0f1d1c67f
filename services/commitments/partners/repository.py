from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.commitments.items.models import Item, ItemPartner
from services.commitments.partners.models import GroupMembership, Partner, PartnerAlias
from services.commitments.plans.models import Plan


async def get(session: AsyncSession, partner_id: uuid.UUID) -> Partner | None:
    query = select(Partner).where(Partner.id == partner_id).options(selectinload(Partner.aliases))
    return (await session.scalars(query)).one_or_none()


async def list_partners(
    session: AsyncSession, only_ids: Iterable[uuid.UUID] | None = None, kind: str | None = None
) -> Sequence[Partner]:
    query = select(Partner).options(selectinload(Partner.aliases)).order_by(Partner.name)
    if only_ids is not None:
        query = query.where(Partner.id.in_(list(only_ids)))
    if kind is not None:
        query = query.where(Partner.kind == kind)
    return (await session.scalars(query)).all()


async def get_plan(session: AsyncSession, plan_id: uuid.UUID) -> Plan | None:
    """The plan a group belongs to, or an item's (which groups it may name)."""
    return await session.get(Plan, plan_id)


async def alias_owners(session: AsyncSession, normalized: str) -> list[tuple[uuid.UUID, str]]:
    """Every partner (and its scope key) having a name or alias with this matching key."""
    query = select(PartnerAlias.partner_id, PartnerAlias.scope_key).where(
        PartnerAlias.normalized == normalized
    )
    return [(partner_id, scope) for partner_id, scope in (await session.execute(query)).all()]


async def alias_matches(
    session: AsyncSession, keys: Sequence[str], scope_keys: Sequence[str]
) -> dict[tuple[str, str], uuid.UUID]:
    """(matching key, scope key) -> partner, for the keys found in those scopes."""
    if not keys or not scope_keys:
        return {}
    query = select(PartnerAlias.normalized, PartnerAlias.scope_key, PartnerAlias.partner_id).where(
        PartnerAlias.normalized.in_(list(keys)), PartnerAlias.scope_key.in_(list(scope_keys))
    )
    return {(key, scope): partner_id for key, scope, partner_id in (await session.execute(query)).all()}


async def groups_among(session: AsyncSession, partner_ids: Iterable[uuid.UUID]) -> Sequence[Partner]:
    ids = list(partner_ids)
    if not ids:
        return []
    return (await session.scalars(select(Partner).where(Partner.id.in_(ids), Partner.is_group))).all()


async def plans_naming(session: AsyncSession, partner_id: uuid.UUID) -> Sequence[Plan]:
    """The plans whose items name the partner (as lead or associated)."""
    query = (
        select(Plan)
        .where(
            Plan.id.in_(
                select(Item.plan_id)
                .join(ItemPartner, ItemPartner.item_id == Item.id)
                .where(ItemPartner.partner_id == partner_id)
            )
        )
        .order_by(Plan.created_at)
    )
    return (await session.scalars(query)).all()


async def groups_named_in_plan(session: AsyncSession, plan_id: uuid.UUID) -> Sequence[Partner]:
    """The groups that items of the plan name (as lead or associated)."""
    query = select(Partner).where(
        Partner.is_group,
        Partner.id.in_(
            select(ItemPartner.partner_id)
            .join(Item, Item.id == ItemPartner.item_id)
            .where(Item.plan_id == plan_id)
        ),
    )
    return (await session.scalars(query)).all()


async def members_of(
    session: AsyncSession, group_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    ids = list(group_ids)
    members: dict[uuid.UUID, list[uuid.UUID]] = {group_id: [] for group_id in ids}
    if not ids:
        return members
    query = (
        select(GroupMembership.group_id, GroupMembership.member_id)
        .where(GroupMembership.group_id.in_(ids))
        .order_by(GroupMembership.member_id)
    )
    for group_id, member_id in (await session.execute(query)).all():
        members[group_id].append(member_id)
    return members


async def replace_members(
    session: AsyncSession, group_id: uuid.UUID, member_ids: Sequence[uuid.UUID]
) -> None:
    await session.execute(delete(GroupMembership).where(GroupMembership.group_id == group_id))
    session.add_all(GroupMembership(group_id=group_id, member_id=member_id) for member_id in member_ids)


async def existing_ids(session: AsyncSession, partner_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    ids = list(partner_ids)
    if not ids:
        return set()
    return set((await session.scalars(select(Partner.id).where(Partner.id.in_(ids)))).all())


async def groups_by_member(session: AsyncSession) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Every membership, as member -> the groups it belongs to (a directory holds a handful of groups)."""
    groups: dict[uuid.UUID, list[uuid.UUID]] = {}
    for group_id, member_id in (
        await session.execute(select(GroupMembership.group_id, GroupMembership.member_id))
    ).all():
        groups.setdefault(member_id, []).append(group_id)
    return groups
