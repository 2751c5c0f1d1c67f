from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from services.commitments.deadlines import service
from services.commitments.deadlines.models import Deadline, DeadlineProposal
from services.commitments.deadlines.schemas import (
    DeadlineCreate,
    DeadlineRead,
    DeadlineUpdate,
    ProposalCreate,
    ProposalDecision,
    ProposalRead,
)
from services.commitments.dependencies import ClockDep, EditorDep, PrincipalDep, SessionDep, WriterDep
from services.commitments.items.router import ItemDep

router = APIRouter(prefix="/v1", tags=["Deadlines"])


async def valid_deadline(deadline_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Deadline:
    return (await service.get_visible(session, principal, deadline_id))[0]


async def valid_proposal(proposal_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> DeadlineProposal:
    return await service.get_visible_proposal(session, principal, proposal_id)


# Declared before the role check, so another partner's object is a 404 whatever the caller's role.
DeadlineDep = Annotated[Deadline, Depends(valid_deadline)]
ProposalDep = Annotated[DeadlineProposal, Depends(valid_proposal)]


@router.get("/items/{item_id}/deadlines", response_model=list[DeadlineRead])
async def list_deadlines(item: ItemDep, session: SessionDep) -> list[DeadlineRead]:
    """The item's deadlines with their renegotiation history."""
    return await service.list_for_item(session, item)


@router.post("/items/{item_id}/deadlines", status_code=201, response_model=DeadlineRead)
async def add_deadline(body: DeadlineCreate, item: ItemDep, session: SessionDep, clock: ClockDep,
                       editor: EditorDep) -> DeadlineRead:
    """Set a response, delivery or milestone date on an item."""
    return DeadlineRead.model_validate(await service.add_deadline(session, editor, clock, item, body))


@router.patch("/deadlines/{deadline_id}", response_model=DeadlineRead)
async def update_deadline(deadline: DeadlineDep, body: DeadlineUpdate, session: SessionDep, clock: ClockDep,
                          editor: EditorDep) -> DeadlineRead:
    """Renegotiate a date (a reason is required) or mark a milestone reached."""
    return DeadlineRead.model_validate(await service.update_deadline(session, editor, clock, deadline, body))


@router.get("/items/{item_id}/deadline-proposals", response_model=list[ProposalRead])
async def list_proposals(item: ItemDep, session: SessionDep) -> list[ProposalRead]:
    """Dates proposed for the item's deadlines, decided or pending."""
    return [ProposalRead.model_validate(p) for p in await service.proposals_for_item(session, item)]


@router.post("/deadlines/{deadline_id}/proposals", status_code=201, response_model=ProposalRead)
async def propose_date(deadline: DeadlineDep, body: ProposalCreate, session: SessionDep, clock: ClockDep,
                       writer: WriterDep) -> ProposalRead:
    """Propose a new date for a deadline (what a partner does instead of changing it)."""
    return ProposalRead.model_validate(await service.propose_date(session, writer, clock, deadline, body))


@router.post("/deadline-proposals/{proposal_id}/decision", response_model=ProposalRead)
async def decide_proposal(proposal: ProposalDep, body: ProposalDecision, session: SessionDep, clock: ClockDep,
                          editor: EditorDep) -> ProposalRead:
    """Accept or refuse a proposed date (city staff)."""
    return ProposalRead.model_validate(await service.decide_proposal(session, editor, clock, proposal, body))
