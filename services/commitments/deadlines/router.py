from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
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
from services.commitments.dependencies import ClockDep, PrincipalDep, SessionDep
from services.commitments.items.permissions import Action, ItemAccess
from services.commitments.items.router import ItemAccessDep, may_on_item

router = APIRouter(prefix="/v1", tags=["Deadlines"])


async def deadline_access(
    deadline_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> tuple[Deadline, ItemAccess]:
    return await service.get_accessible(session, principal, deadline_id)


async def proposal_access(
    proposal_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> tuple[DeadlineProposal, ItemAccess]:
    return await service.get_accessible_proposal(session, principal, proposal_id)


# Resolved first: an object of an item the caller may not see is a 404, before any check of what it may do.
DeadlineAccessDep = Annotated[tuple[Deadline, ItemAccess], Depends(deadline_access)]
ProposalAccessDep = Annotated[tuple[DeadlineProposal, ItemAccess], Depends(proposal_access)]
DeadlinesEditorDep = Annotated[ItemAccess, Depends(may_on_item(Action.EDIT_DEADLINES))]


def may_on_deadline(action: Action) -> Callable[..., Awaitable[tuple[Deadline, ItemAccess]]]:
    """A dependency: the deadline and its item's access, when the caller may take `action` on that item."""

    async def check(target: DeadlineAccessDep) -> tuple[Deadline, ItemAccess]:
        target[1].require(action)
        return target

    return check


async def _decidable_proposal(target: ProposalAccessDep) -> tuple[DeadlineProposal, ItemAccess]:
    target[1].require(Action.EDIT_DEADLINES)
    return target


EditableDeadlineDep = Annotated[tuple[Deadline, ItemAccess], Depends(may_on_deadline(Action.EDIT_DEADLINES))]
ProposableDeadlineDep = Annotated[tuple[Deadline, ItemAccess], Depends(may_on_deadline(Action.PROPOSE_DATE))]
DecidableProposalDep = Annotated[tuple[DeadlineProposal, ItemAccess], Depends(_decidable_proposal)]


@router.get("/items/{item_id}/deadlines", response_model=list[DeadlineRead])
async def list_deadlines(access: ItemAccessDep, session: SessionDep) -> list[DeadlineRead]:
    """The item's deadlines with their renegotiation history."""
    return await service.list_for_item(session, access.item)


@router.post("/items/{item_id}/deadlines", status_code=201, response_model=DeadlineRead)
async def add_deadline(
    body: DeadlineCreate, access: DeadlinesEditorDep, session: SessionDep, clock: ClockDep
) -> DeadlineRead:
    """Set a response, delivery or milestone date on an item (city staff)."""
    deadline = await service.add_deadline(session, access.principal, clock, access.item, body)
    return DeadlineRead.model_validate(deadline)


@router.patch("/deadlines/{deadline_id}", response_model=DeadlineRead)
async def update_deadline(
    target: EditableDeadlineDep, body: DeadlineUpdate, session: SessionDep, clock: ClockDep
) -> DeadlineRead:
    """Renegotiate a date (a reason is required) or mark a milestone reached (city staff)."""
    deadline, access = target
    return DeadlineRead.model_validate(
        await service.update_deadline(session, access.principal, clock, deadline, body)
    )


@router.get("/items/{item_id}/deadline-proposals", response_model=list[ProposalRead])
async def list_proposals(access: ItemAccessDep, session: SessionDep) -> list[ProposalRead]:
    """Dates proposed for the item's deadlines, decided or pending."""
    return [ProposalRead.model_validate(p) for p in await service.proposals_for_item(session, access.item)]


@router.post("/deadlines/{deadline_id}/proposals", status_code=201, response_model=ProposalRead)
async def propose_date(
    target: ProposableDeadlineDep, body: ProposalCreate, session: SessionDep, clock: ClockDep
) -> ProposalRead:
    """Propose a new date for a deadline (what the lead partner does instead of changing it); the city decides."""
    deadline, access = target
    proposal = await service.propose_date(session, access.principal, clock, deadline, body)
    return ProposalRead.model_validate(proposal)


@router.post("/deadline-proposals/{proposal_id}/decision", response_model=ProposalRead)
async def decide_proposal(
    target: DecidableProposalDep, body: ProposalDecision, session: SessionDep, clock: ClockDep
) -> ProposalRead:
    """Accept or refuse a proposed date (city staff)."""
    proposal, access = target
    decided = await service.decide_proposal(session, access.principal, clock, proposal, body)
    return ProposalRead.model_validate(decided)
