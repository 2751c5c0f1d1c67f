from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.commitments.dependencies import ClockDep, EditorDep, PrincipalDep, SessionDep
from services.commitments.partners import service
from services.commitments.partners.models import Partner
from services.commitments.partners.schemas import PartnerCreate, PartnerKind, PartnerRead, PartnerUpdate

router = APIRouter(prefix="/v1/partners", tags=["Partners"])


async def valid_partner(partner_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Partner:
    return await service.get_visible(session, principal, partner_id)


PartnerDep = Annotated[Partner, Depends(valid_partner)]


@router.get("", response_model=list[PartnerRead])
async def list_partners(
    session: SessionDep, principal: PrincipalDep, kind: Annotated[PartnerKind | None, Query()] = None
) -> list[PartnerRead]:
    """List the partner directory (a partner key sees its own organisation and its groups)."""
    return await service.to_read(session, await service.list_visible(session, principal, kind))


@router.post("", status_code=201, response_model=PartnerRead)
async def create_partner(
    body: PartnerCreate, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> PartnerRead:
    """Add an organisation, or a group of partners belonging to a plan or a territory."""
    partner = await service.create_partner(session, editor, clock, body)
    return (await service.to_read(session, [partner]))[0]


@router.get("/{partner_id}", response_model=PartnerRead)
async def get_partner(partner: PartnerDep, session: SessionDep) -> PartnerRead:
    """One partner, with aliases and (for a group) members."""
    return (await service.to_read(session, [partner]))[0]


@router.patch("/{partner_id}", response_model=PartnerRead)
async def update_partner(
    body: PartnerUpdate, partner: PartnerDep, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> PartnerRead:
    """Change a partner's name, kind, aliases, SIRET, or a group's members or scope (plan or territory)."""
    partner = await service.update_partner(session, editor, clock, partner, body)
    return (await service.to_read(session, [partner]))[0]
