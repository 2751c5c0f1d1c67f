from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.auth.models import ApiKey
from services.commitments.contacts.models import Contact
from services.commitments.partners.models import GroupMembership


async def get_active_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    query = select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    return (await session.scalars(query)).one_or_none()


async def get(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def list_keys(session: AsyncSession) -> Sequence[ApiKey]:
    return (await session.scalars(select(ApiKey).order_by(ApiKey.id))).all()


async def groups_of(session: AsyncSession, partner_id: uuid.UUID) -> Sequence[uuid.UUID]:
    query = select(GroupMembership.group_id).where(GroupMembership.member_id == partner_id)
    return (await session.scalars(query)).all()


async def get_contact(session: AsyncSession, contact_id: uuid.UUID) -> Contact | None:
    """The contact a service key acts for (whether it may is the service's rule)."""
    return await session.get(Contact, contact_id)
