"""The commitments stream applied to the read model, event by event, in stream order.

Every value comes from the event (its `occurred_at`, the dates it states): never from a clock, so that a
replay gives the same rows. Dates of steps are the dates the city or the partner stated (`on`), in Paris."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.projection.models import (
    Axis,
    Deadline,
    Item,
    ItemPartner,
    Objective,
    Partner,
    PartnerMember,
    Plan,
    TimelineEntry,
)
from services.reporting.statuses import ANSWERED, ANSWERS, waiting_on
from shared.calendar import default_calendar
from shared.clock import PARIS
from shared.events import EventEnvelope
from shared.events import commitments as events


def paris_date(instant: datetime) -> date:
    return instant.astimezone(PARIS).date()


# session.info key: the (stream, sequence) of the event being applied (set by projector.apply_batch).
STREAM_POSITION = "reporting.stream_position"


def add_timeline_entry(session: AsyncSession, envelope: EventEnvelope, item_id: uuid.UUID, on: date | None,
                       details: dict[str, Any]) -> None:
    """The event as a line of its item's history."""
    stream, seq = session.info[STREAM_POSITION]
    session.add(TimelineEntry(event_id=envelope.id, item_id=item_id, occurred_at=envelope.occurred_at,
                              stream=stream, stream_seq=seq, on=on, type=envelope.type, details=details))


def _json(data: events.EventData, *fields: str) -> dict[str, Any]:
    dumped = data.model_dump(mode="json")
    return {name: dumped[name] for name in fields}


async def _partner_created(session: AsyncSession, envelope: EventEnvelope, data: events.PartnerCreated) -> None:
    await session.merge(Partner(id=data.partner_id, name=data.name, kind=data.kind, is_group=data.is_group))
    await _replace_members(session, data.partner_id, data.member_ids)


async def _partner_updated(session: AsyncSession, envelope: EventEnvelope, data: events.PartnerUpdated) -> None:
    partner = await session.get(Partner, data.partner_id)
    if partner is None:  # created before the stream began: the event says enough to know it
        partner = Partner(id=data.partner_id, name=data.name, kind=data.kind, is_group=bool(data.member_ids))
        session.add(partner)
    partner.name, partner.kind = data.name, data.kind
    await _replace_members(session, data.partner_id, data.member_ids)


async def _replace_members(session: AsyncSession, group_id: uuid.UUID, member_ids: list[uuid.UUID]) -> None:
    await session.execute(delete(PartnerMember).where(PartnerMember.group_id == group_id))
    session.add_all(PartnerMember(group_id=group_id, member_id=member) for member in dict.fromkeys(member_ids))


async def _plan_created(session: AsyncSession, envelope: EventEnvelope, data: events.PlanCreated) -> None:
    await session.merge(Plan(id=data.plan_id, title=data.title, commune=data.commune))


async def _axis_created(session: AsyncSession, envelope: EventEnvelope, data: events.AxisCreated) -> None:
    await session.merge(Axis(id=data.axis_id, plan_id=data.plan_id, number=data.number, title=data.title,
                             position=data.position))


async def _objective_created(session: AsyncSession, envelope: EventEnvelope, data: events.ObjectiveCreated
                             ) -> None:
    await session.merge(Objective(id=data.objective_id, axis_id=data.axis_id, plan_id=data.plan_id,
                                  letter=data.letter, title=data.title, position=data.position))


async def _replace_parties(session: AsyncSession, item_id: uuid.UUID, lead: uuid.UUID | None,
                           associated: list[uuid.UUID]) -> None:
    await session.execute(delete(ItemPartner).where(ItemPartner.item_id == item_id))
    parties = {partner: "associated" for partner in associated}
    if lead is not None:
        parties[lead] = "lead"
    session.add_all(ItemPartner(item_id=item_id, partner_id=partner, relation=relation)
                    for partner, relation in parties.items())


async def _item_created(session: AsyncSession, envelope: EventEnvelope, data: events.ItemCreated) -> None:
    on = paris_date(envelope.occurred_at)
    session.add(Item(id=data.item_id, plan_id=data.plan_id, objective_id=data.objective_id, kind=data.kind,
                     title=data.title, status=data.status, waiting_on=waiting_on(data.kind, data.status),
                     lead_partner_id=data.lead_partner_id, progress_percent=None, created_on=on,
                     status_changed_on=on, requested_on=None, acknowledged_on=None, answered_on=None,
                     delivered_on=None, verified_on=None, response_delay_working_days=None,
                     answered_by_deadline=None))
    await _replace_parties(session, data.item_id, data.lead_partner_id, data.associated_partner_ids)
    add_timeline_entry(session, envelope, data.item_id, on, _json(data, "kind", "title", "status",
                                                                   "lead_partner_id"))


async def _item_updated(session: AsyncSession, envelope: EventEnvelope, data: events.ItemUpdated) -> None:
    item = await session.get(Item, data.item_id)
    if item is None:
        return
    item.title, item.lead_partner_id = data.title, data.lead_partner_id
    await _replace_parties(session, data.item_id, data.lead_partner_id, data.associated_partner_ids)
    add_timeline_entry(session, envelope, data.item_id, paris_date(envelope.occurred_at),
                       _json(data, "changed", "title", "lead_partner_id"))


async def _deadlines_of(session: AsyncSession, item_id: uuid.UUID, *kinds: str) -> list[Deadline]:
    found = await session.scalars(select(Deadline).where(Deadline.item_id == item_id, Deadline.kind.in_(kinds),
                                                         Deadline.removed.is_(False)))
    return list(found)


async def _item_status_changed(session: AsyncSession, envelope: EventEnvelope, data: events.ItemStatusChanged
                               ) -> None:
    item = await session.get(Item, data.item_id)
    if item is None:
        return
    target, on = data.to_status, data.on
    item.status, item.status_changed_on, item.waiting_on = target, on, waiting_on(item.kind, target)
    if target == "sent" and item.requested_on is None:
        item.requested_on = on
    if target == "acknowledged" and item.acknowledged_on is None:
        item.acknowledged_on = on
    if target in ANSWERS and item.answered_on is None:
        item.answered_on = on
        if item.requested_on is not None:
            item.response_delay_working_days = default_calendar().working_days_between(item.requested_on, on)
        response = await _deadlines_of(session, item.id, "response")
        item.answered_by_deadline = all(on <= deadline.due_on for deadline in response) if response else None
    if target in ("delivered", "done"):
        item.delivered_on = on
    if target == "verified":
        item.verified_on = on
    if target in ("verified", "done"):
        item.progress_percent = 100
    # The commitments service meets and reopens deadlines on these transitions (no event of their own).
    if target in ANSWERED:
        for deadline in await _deadlines_of(session, item.id, "response"):
            deadline.met_on = deadline.met_on or on
    if target in ("delivered", "done"):
        for deadline in await _deadlines_of(session, item.id, "delivery"):
            deadline.met_on = deadline.met_on or on
    if target == "in_progress" and data.from_status in ("delivered", "done"):
        for deadline in await _deadlines_of(session, item.id, "delivery"):
            deadline.met_on = None
    add_timeline_entry(session, envelope, data.item_id, on, _json(data, "from_status", "to_status"))


async def _deadline_set(session: AsyncSession, envelope: EventEnvelope, data: events.DeadlineSet) -> None:
    deadline = await session.get(Deadline, data.deadline_id)
    if deadline is None:
        session.add(Deadline(id=data.deadline_id, item_id=data.item_id, kind=data.kind,
                             original_due_on=data.previous_due_on or data.due_on, due_on=data.due_on,
                             version=data.deadline_version, met_on=None, removed=False))
    else:
        deadline.due_on, deadline.version = data.due_on, data.deadline_version
    add_timeline_entry(session, envelope, data.item_id, data.due_on,
                       _json(data, "deadline_id", "kind", "due_on", "previous_due_on"))


async def _deadline_removed(session: AsyncSession, envelope: EventEnvelope, data: events.DeadlineRemoved) -> None:
    deadline = await session.get(Deadline, data.deadline_id)
    if deadline is not None:
        deadline.removed = True
    add_timeline_entry(session, envelope, data.item_id, None, _json(data, "deadline_id"))


async def _deadline_met_changed(session: AsyncSession, envelope: EventEnvelope, data: events.DeadlineMetChanged
                                ) -> None:
    deadline = await session.get(Deadline, data.deadline_id)
    if deadline is not None:
        deadline.met_on = data.met_on
    add_timeline_entry(session, envelope, data.item_id, data.met_on, _json(data, "deadline_id", "met_on"))


async def _journal_entry_added(session: AsyncSession, envelope: EventEnvelope, data: events.JournalEntryAdded
                               ) -> None:
    if data.progress_percent is not None:
        item = await session.get(Item, data.item_id)
        if item is not None:
            item.progress_percent = data.progress_percent
    add_timeline_entry(session, envelope, data.item_id, data.on, _json(data, "kind", "progress_percent"))


async def _timeline_only(session: AsyncSession, envelope: EventEnvelope, data: Any) -> None:
    fields = {
        "deadline.proposed": ("deadline_id", "proposed_due_on"),
        "deadline.proposal_decided": ("deadline_id", "accepted"),
        "item.contact_assigned": ("partner_id",),
    }.get(envelope.type, ("deadline_id", "step", "due_on", "offset_working_days", "escalation"))
    add_timeline_entry(session, envelope, data.item_id, paris_date(envelope.occurred_at), _json(data, *fields))


Handler = Callable[[AsyncSession, EventEnvelope, Any], Awaitable[None]]
HANDLERS: dict[str, Handler] = {
    "partner.created": _partner_created,
    "partner.updated": _partner_updated,
    "plan.created": _plan_created,
    "axis.created": _axis_created,
    "objective.created": _objective_created,
    "item.created": _item_created,
    "item.updated": _item_updated,
    "item.status_changed": _item_status_changed,
    "deadline.set": _deadline_set,
    "deadline.removed": _deadline_removed,
    "deadline.met_changed": _deadline_met_changed,
    "journal.entry_added": _journal_entry_added,
    "deadline.proposed": _timeline_only,
    "deadline.proposal_decided": _timeline_only,
    "item.contact_assigned": _timeline_only,
    "deadline.approaching": _timeline_only,
    "deadline.due": _timeline_only,
    "deadline.overdue": _timeline_only,
    "deadline.escalated": _timeline_only,
}


async def apply(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Apply one event of the commitments stream (contacts and keys say nothing reports need: only recorded
    as seen)."""
    handler = HANDLERS.get(envelope.type)
    if handler is not None:
        await handler(session, envelope, envelope.parsed())
