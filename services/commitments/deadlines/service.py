"""Deadlines of items, their renegotiation history, and dates proposed by partners."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments import messagebus
from services.commitments.deadlines import repository
from services.commitments.deadlines.events import DeadlineDated, MilestoneMetChanged
from services.commitments.deadlines.models import Deadline, DeadlineChange, DeadlineProposal
from services.commitments.deadlines.schemas import (
    DeadlineChangeRead,
    DeadlineCreate,
    DeadlineRead,
    DeadlineUpdate,
    ProposalCreate,
    ProposalDecision,
)
from services.commitments.history.service import record_change
from services.commitments.items import events as item_events
from services.commitments.items import service as items_service
from services.commitments.items.lifecycle import ANSWERED, Status
from services.commitments.items.models import Item
from services.commitments.items.permissions import ItemAccess
from services.commitments.items.stated_dates import check_future_date, check_past_date
from services.commitments.outbox.recorder import record_event
from shared.auth import Principal
from shared.clock import Clock
from shared.events.commitments import (
    DeadlineMetChanged,
    DeadlineProposalDecided,
    DeadlineProposed,
    DeadlineSet,
)
from shared.problems import Conflict, InvalidInput, NotFound


async def get_accessible(
    session: AsyncSession, principal: Principal, deadline_id: uuid.UUID
) -> tuple[Deadline, ItemAccess]:
    """The deadline and its item with what the caller is to it, or NotFound when the caller may not see the
    item."""
    deadline = await repository.get(session, deadline_id)
    if deadline is None:
        raise NotFound("Échéance introuvable.")
    try:
        access = await items_service.get_accessible(session, principal, deadline.item_id)
    except NotFound:
        raise NotFound("Échéance introuvable.") from None
    return deadline, access


async def list_for_item(session: AsyncSession, item: Item) -> list[DeadlineRead]:
    """The item's deadlines, each with its renegotiation history."""
    reads = []
    for deadline in await repository.list_for_item(session, item.id):
        read = DeadlineRead.model_validate(deadline)
        read.changes = [
            DeadlineChangeRead.model_validate(c) for c in await repository.changes_of(session, deadline.id)
        ]
        reads.append(read)
    return reads


def _record_date_change(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    deadline: Deadline,
    previous: date | None,
    reason: str | None,
) -> None:
    session.add(
        DeadlineChange(
            deadline_id=deadline.id,
            previous_due_on=previous,
            new_due_on=deadline.due_on,
            reason=reason,
            actor_kind=actor.actor.kind,
            actor_id=actor.actor.id,
            changed_at=clock.now(),
        )
    )
    record_event(
        session,
        DeadlineSet(
            deadline_id=deadline.id,
            item_id=deadline.item_id,
            kind=deadline.kind,
            due_on=deadline.due_on,
            previous_due_on=previous,
            deadline_version=deadline.version,
        ),
        actor,
        clock,
    )


async def add_deadline(
    session: AsyncSession, actor: Principal, clock: Clock, item: Item, data: DeadlineCreate
) -> Deadline:
    """Give an item a response, delivery or milestone date."""
    if data.kind == "response" and item.kind != "request":
        raise InvalidInput("Seule une demande à un partenaire a une échéance de réponse.")
    await items_service.hold_for_events(session, item.id)
    existing = await repository.list_for_item(session, item.id)
    if data.kind != "milestone" and any(d.kind == data.kind for d in existing):
        raise Conflict(
            f"L'élément a déjà une échéance « {data.kind} » : modifiez-la (PATCH) pour la renégocier."
        )
    now = clock.now()
    deadline = Deadline(
        item_id=item.id,
        kind=data.kind,
        label=data.label,
        due_on=data.due_on,
        original_wording=data.original_wording,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(deadline)
    await session.flush()
    record_change(
        session,
        actor,
        clock,
        entity_type="deadline",
        entity_id=deadline.id,
        item_id=item.id,
        action="created",
        changes=data.model_dump(mode="json"),
    )
    _record_date_change(session, actor, clock, deadline, None, None)
    await messagebus.publish(session, clock, DeadlineDated(deadline))
    return deadline


async def update_deadline(
    session: AsyncSession, actor: Principal, clock: Clock, deadline: Deadline, data: DeadlineUpdate
) -> Deadline:
    """Move a deadline (with a reason: it is renegotiation history) or mark a milestone reached."""
    changes = data.model_dump(exclude_unset=True, mode="json")
    if "due_on" in changes and data.due_on is None:
        raise InvalidInput("due_on ne peut pas être null.")
    await items_service.hold_for_events(session, deadline.item_id)
    await session.refresh(deadline)  # as the transaction before this one on the item left it
    if "met_on" in changes and data.met_on != deadline.met_on:
        if deadline.kind != "milestone":
            raise InvalidInput(
                "met_on : seul un jalon se marque atteint à la main ; les autres suivent l'état de l'élément."
            )
        if data.met_on is not None:
            check_past_date("met_on", data.met_on, clock)
    audit: dict[str, list[object]] = {}
    if data.due_on is not None and data.due_on != deadline.due_on:
        if not data.reason:
            raise InvalidInput("Changer une échéance exige un motif (reason).")
        previous = deadline.due_on
        deadline.due_on, deadline.version = data.due_on, deadline.version + 1
        audit["due_on"] = [previous.isoformat(), data.due_on.isoformat()]
        _record_date_change(session, actor, clock, deadline, previous, data.reason)
        await messagebus.publish(session, clock, DeadlineDated(deadline))
    if "label" in changes and data.label != deadline.label:
        audit["label"] = [deadline.label, data.label]
        deadline.label = data.label
    if "met_on" in changes and data.met_on != deadline.met_on:
        audit["met_on"] = [
            deadline.met_on and deadline.met_on.isoformat(),
            data.met_on and data.met_on.isoformat(),
        ]
        deadline.met_on = data.met_on
        record_event(
            session,
            DeadlineMetChanged(deadline_id=deadline.id, item_id=deadline.item_id, met_on=data.met_on),
            actor,
            clock,
        )
        await messagebus.publish(session, clock, MilestoneMetChanged(deadline.item_id, deadline.id))
    if audit:
        deadline.updated_at = clock.now()
        if data.reason:
            audit["reason"] = [None, data.reason]
        record_change(
            session,
            actor,
            clock,
            entity_type="deadline",
            entity_id=deadline.id,
            item_id=deadline.item_id,
            action="updated",
            changes=audit,
        )
    return deadline


async def propose_date(
    session: AsyncSession, actor: Principal, clock: Clock, deadline: Deadline, data: ProposalCreate
) -> DeadlineProposal:
    """A partner (or staff) proposes a new date, after today; the city decides."""
    check_future_date("proposed_due_on", data.proposed_due_on, clock)
    proposal = DeadlineProposal(
        deadline_id=deadline.id,
        proposed_due_on=data.proposed_due_on,
        reason=data.reason,
        status="pending",
        actor_kind=actor.actor.kind,
        actor_id=actor.actor.id,
        proposed_at=clock.now(),
    )
    session.add(proposal)
    await session.flush()
    record_change(
        session,
        actor,
        clock,
        entity_type="deadline_proposal",
        entity_id=proposal.id,
        item_id=deadline.item_id,
        action="proposed",
        changes={"proposed_due_on": data.proposed_due_on, "reason": data.reason},
    )
    record_event(
        session,
        DeadlineProposed(
            proposal_id=proposal.id,
            deadline_id=deadline.id,
            item_id=deadline.item_id,
            proposed_due_on=data.proposed_due_on,
        ),
        actor,
        clock,
    )
    if actor.is_partner:  # a partner proposing a date is responding
        await messagebus.publish(session, clock, item_events.PartnerResponded(deadline.item_id))
    return proposal


async def decide_proposal(
    session: AsyncSession, actor: Principal, clock: Clock, proposal: DeadlineProposal, data: ProposalDecision
) -> DeadlineProposal:
    """Accept (the deadline moves, with the proposal's reason) or refuse a proposed date."""
    if proposal.status != "pending":
        raise Conflict(f"Cette proposition a déjà été traitée ({proposal.status}).")
    deadline = await repository.get(session, proposal.deadline_id)
    assert deadline is not None  # the foreign key guarantees it
    proposal.status = "accepted" if data.accept else "refused"
    proposal.decided_at = clock.now()
    if data.accept:
        reason = f"Proposition du partenaire acceptée : {proposal.reason}"
        await update_deadline(
            session, actor, clock, deadline, DeadlineUpdate(due_on=proposal.proposed_due_on, reason=reason)
        )
    record_change(
        session,
        actor,
        clock,
        entity_type="deadline_proposal",
        entity_id=proposal.id,
        item_id=deadline.item_id,
        action=proposal.status,
        changes={"comment": data.comment},
    )
    record_event(
        session,
        DeadlineProposalDecided(
            proposal_id=proposal.id, deadline_id=deadline.id, item_id=deadline.item_id, accepted=data.accept
        ),
        actor,
        clock,
    )
    return proposal


async def get_accessible_proposal(
    session: AsyncSession, principal: Principal, proposal_id: uuid.UUID
) -> tuple[DeadlineProposal, ItemAccess]:
    """The proposal and its item's access, or NotFound when the caller may not see its item."""
    proposal = await repository.get_proposal(session, proposal_id)
    if proposal is None:
        raise NotFound("Proposition introuvable.")
    try:
        _, access = await get_accessible(session, principal, proposal.deadline_id)
    except NotFound:
        raise NotFound("Proposition introuvable.") from None
    return proposal, access


async def proposals_for_item(session: AsyncSession, item: Item) -> Sequence[DeadlineProposal]:
    """Every date proposed for the item's deadlines."""
    return await repository.proposals_for_item(session, item.id)


async def on_item_status_changed(
    session: AsyncSession, _clock: Clock, event: item_events.StatusChanged
) -> None:
    """An answer meets the response deadline, a delivery (or a commitment done) the delivery deadline; a
    delivery sent back to work reopens it."""
    item, target, current = event.item, Status(event.item.status), Status(event.previous_status)
    if target in ANSWERED:
        await repository.mark_met(session, item.id, ("response",), event.on)
    if target in (Status.DELIVERED, Status.DONE):
        await repository.mark_met(session, item.id, ("delivery",), event.on)
    if target is Status.IN_PROGRESS and current in (Status.DELIVERED, Status.DONE):
        await repository.reopen(session, item.id, ("delivery",))
