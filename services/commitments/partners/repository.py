from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.commitments.partners.models import GroupMembership, Partner, PartnerAlias


async def get(session: AsyncSession, partner_id: uuid.UUID) -> Partner | None:
    query = select(Partner).where(Partner.id == partner_id).options(selectinload(Partner.aliases))
    return (await session.scalars(query)).one_or_none()


async def list_partners(session: AsyncSession, only_ids: Iterable[uuid.UUID] | None = None,
                        kind: str | None = None) -> Sequence[Partner]:
    query = select(Partner).options(selectinload(Partner.aliases)).order_by(Partner.name)
    if only_ids is not None:
        query = query.where(Partner.id.in_(list(only_ids)))
    if kind is not None:
        query = query.where(Partner.kind == kind)
    return (await session.scalars(query)).all()


async def find_by_normalized_name(session: AsyncSession, normalized: str) -> Partner | None:
    """A partner whose name or alias has this matching key."""
    alias_query = select(PartnerAlias.partner_id).where(PartnerAlias.normalized == normalized)
    partner_id = (await session.scalars(alias_query)).first()
    if partner_id is None:
        return None
    return await get(session, partner_id)


async def alias_owner(session: AsyncSession, normalized: str) -> uuid.UUID | None:
    query = select(PartnerAlias.partner_id).where(PartnerAlias.normalized == normalized)
    return (await session.scalars(query)).first()


async def name_taken(session: AsyncSession, name: str) -> bool:
    return (await session.scalars(select(Partner.id).where(Partner.name == name))).first() is not None


async def members_of(session: AsyncSession, group_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    ids = list(group_ids)
    members: dict[uuid.UUID, list[uuid.UUID]] = {group_id: [] for group_id in ids}
    if not ids:
        return members
    query = (select(GroupMembership.group_id, GroupMembership.member_id)
             .where(GroupMembership.group_id.in_(ids)).order_by(GroupMembership.member_id))
    for group_id, member_id in (await session.execute(query)).all():
        members[group_id].append(member_id)
    return members


async def replace_members(session: AsyncSession, group_id: uuid.UUID, member_ids: Sequence[uuid.UUID]) -> None:
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
    for group_id, member_id in (await session.execute(select(GroupMembership.group_id,
                                                             GroupMembership.member_id))).all():
        groups.setdefault(member_id, []).append(group_id)
    return groups
