"""The commitments stream applied to the read model, event by event, in stream order.

Every value comes from the event (its `occurred_at`, the dates it states): never from a clock, so that a
replay gives the same rows. Dates of steps are the dates the city or the partner stated (`on`), in Paris.
Handlers read and change the rows of their batch (batch.py), never the database directly."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from services.reporting.projection.batch import Batch
from services.reporting.projection.models import Axis, Deadline, Item, Objective, Partner, Plan
from services.reporting.statuses import ANSWERED, ANSWERS, waiting_on
from shared.calendar import default_calendar
from shared.clock import PARIS
from shared.events import EventEnvelope
from shared.events import commitments as events
from shared.metrics import REPORTING_EVENTS_SKIPPED

logger = logging.getLogger(__name__)


def paris_date(instant: datetime) -> date:
    return instant.astimezone(PARIS).date()


def _unknown(batch: Batch, envelope: EventEnvelope, what: str, key: uuid.UUID) -> None:
    """The event names a row the read model does not hold: it cannot be applied. Never silent: counted and
    logged (the streams carry each item's events in commit order, so this means an event was lost or came
    ahead of the one creating the row, and reporting now differs from the commitments database)."""
    REPORTING_EVENTS_SKIPPED.labels(envelope.type).inc()
    logger.warning(
        "event %s (%s) at %s #%d not applied: %s %s unknown",
        envelope.id,
        envelope.type,
        batch.stream,
        batch.seq,
        what,
        key,
    )


def _json(envelope: EventEnvelope, *fields: str) -> dict[str, Any]:
    """These fields of the event's data, as published (JSON values)."""
    return {name: envelope.data.get(name) for name in fields}


async def _partner_created(batch: Batch, envelope: EventEnvelope, data: events.PartnerCreated) -> None:
    partner = batch.get(Partner, data.partner_id) or batch.add(Partner, {"id": data.partner_id})
    partner.update(name=data.name, kind=data.kind, is_group=data.is_group)
    batch.set_members(data.partner_id, data.member_ids)


async def _partner_updated(batch: Batch, envelope: EventEnvelope, data: events.PartnerUpdated) -> None:
    partner = batch.get(Partner, data.partner_id)
    if partner is None:  # created before the stream began: the event says enough to know it
        partner = batch.add(Partner, {"id": data.partner_id, "is_group": bool(data.member_ids)})
    partner.update(name=data.name, kind=data.kind)
    batch.set_members(data.partner_id, data.member_ids)


async def _plan_created(batch: Batch, envelope: EventEnvelope, data: events.PlanCreated) -> None:
    plan = batch.get(Plan, data.plan_id) or batch.add(Plan, {"id": data.plan_id})
    plan.update(title=data.title, commune=data.commune)


async def _axis_created(batch: Batch, envelope: EventEnvelope, data: events.AxisCreated) -> None:
    axis = batch.get(Axis, data.axis_id) or batch.add(Axis, {"id": data.axis_id})
    axis.update(plan_id=data.plan_id, number=data.number, title=data.title, position=data.position)


async def _objective_created(batch: Batch, envelope: EventEnvelope, data: events.ObjectiveCreated) -> None:
    objective = batch.get(Objective, data.objective_id) or batch.add(Objective, {"id": data.objective_id})
    objective.update(
        axis_id=data.axis_id,
        plan_id=data.plan_id,
        letter=data.letter,
        title=data.title,
        position=data.position,
    )


async def _item_created(batch: Batch, envelope: EventEnvelope, data: events.ItemCreated) -> None:
    on = paris_date(envelope.occurred_at)
    batch.add(
        Item,
        {
            "id": data.item_id,
            "plan_id": data.plan_id,
            "objective_id": data.objective_id,
            "kind": data.kind,
            "title": data.title,
            "status": data.status,
            "waiting_on": waiting_on(data.kind, data.status),
            "lead_partner_id": data.lead_partner_id,
            "owner_contact_id": data.owner_contact_id,
            "progress_percent": None,
            "created_on": on,
            "status_changed_on": on,
            "requested_on": None,
            "acknowledged_on": None,
            "answered_on": None,
            "delivered_on": None,
            "verified_on": None,
            "response_delay_working_days": None,
            "answered_by_deadline": None,
        },
    )
    batch.set_parties(data.item_id, data.lead_partner_id, data.associated_partner_ids)
    batch.add_timeline_entry(
        envelope, data.item_id, on, _json(envelope, "kind", "title", "status", "lead_partner_id")
    )


async def _item_updated(batch: Batch, envelope: EventEnvelope, data: events.ItemUpdated) -> None:
    item = batch.get(Item, data.item_id)
    if item is None:
        _unknown(batch, envelope, "item", data.item_id)
        return
    item.update(
        title=data.title, lead_partner_id=data.lead_partner_id, owner_contact_id=data.owner_contact_id
    )
    batch.set_parties(data.item_id, data.lead_partner_id, data.associated_partner_ids)
    batch.add_timeline_entry(
        envelope,
        data.item_id,
        paris_date(envelope.occurred_at),
        _json(envelope, "changed", "title", "lead_partner_id"),
    )


async def _item_status_changed(batch: Batch, envelope: EventEnvelope, data: events.ItemStatusChanged) -> None:
    item = batch.get(Item, data.item_id)
    if item is None:
        _unknown(batch, envelope, "item", data.item_id)
        return
    target, on = data.to_status, data.on
    item.update(status=target, status_changed_on=on, waiting_on=waiting_on(item["kind"], target))
    if target == "sent" and item["requested_on"] is None:
        item["requested_on"] = on
    if target == "acknowledged" and item["acknowledged_on"] is None:
        item["acknowledged_on"] = on
    if target in ANSWERS and item["answered_on"] is None:
        item["answered_on"] = on
        if item["requested_on"] is not None:
            item["response_delay_working_days"] = default_calendar().working_days_between(
                item["requested_on"], on
            )
        response = batch.deadlines_of(data.item_id, "response")
        item["answered_by_deadline"] = (
            all(on <= deadline["due_on"] for deadline in response) if response else None
        )
    if target in ("delivered", "done"):
        item["delivered_on"] = on
    if target == "verified":
        item["verified_on"] = on
    if target in ("verified", "done"):
        item["progress_percent"] = 100
    # The commitments service meets and reopens deadlines on these transitions (no event of their own).
    if target in ANSWERED:
        for deadline in batch.deadlines_of(data.item_id, "response"):
            deadline["met_on"] = deadline["met_on"] or on
    if target in ("delivered", "done"):
        for deadline in batch.deadlines_of(data.item_id, "delivery"):
            deadline["met_on"] = deadline["met_on"] or on
    if target == "in_progress" and data.from_status in ("delivered", "done"):
        for deadline in batch.deadlines_of(data.item_id, "delivery"):
            deadline["met_on"] = None
    batch.add_timeline_entry(envelope, data.item_id, on, _json(envelope, "from_status", "to_status"))


async def _deadline_set(batch: Batch, envelope: EventEnvelope, data: events.DeadlineSet) -> None:
    deadline = batch.get(Deadline, data.deadline_id)
    if deadline is None:
        batch.add(
            Deadline,
            {
                "id": data.deadline_id,
                "item_id": data.item_id,
                "kind": data.kind,
                "original_due_on": data.previous_due_on or data.due_on,
                "due_on": data.due_on,
                "version": data.deadline_version,
                "met_on": None,
                "removed": False,
            },
        )
    else:
        deadline.update(due_on=data.due_on, version=data.deadline_version)
    batch.add_timeline_entry(
        envelope,
        data.item_id,
        data.due_on,
        _json(envelope, "deadline_id", "kind", "due_on", "previous_due_on"),
    )


async def _deadline_removed(batch: Batch, envelope: EventEnvelope, data: events.DeadlineRemoved) -> None:
    deadline = batch.get(Deadline, data.deadline_id)
    if deadline is None:
        _unknown(batch, envelope, "deadline", data.deadline_id)
    else:
        deadline["removed"] = True
    batch.add_timeline_entry(envelope, data.item_id, None, _json(envelope, "deadline_id"))


async def _deadline_met_changed(
    batch: Batch, envelope: EventEnvelope, data: events.DeadlineMetChanged
) -> None:
    deadline = batch.get(Deadline, data.deadline_id)
    if deadline is None:
        _unknown(batch, envelope, "deadline", data.deadline_id)
    else:
        deadline["met_on"] = data.met_on
    batch.add_timeline_entry(envelope, data.item_id, data.met_on, _json(envelope, "deadline_id", "met_on"))


async def _journal_entry_added(batch: Batch, envelope: EventEnvelope, data: events.JournalEntryAdded) -> None:
    if data.progress_percent is not None:
        item = batch.get(Item, data.item_id)
        if item is None:
            _unknown(batch, envelope, "item", data.item_id)
        else:
            item["progress_percent"] = data.progress_percent
    batch.add_timeline_entry(envelope, data.item_id, data.on, _json(envelope, "kind", "progress_percent"))


_TIMELINE_FIELDS = {
    "deadline.proposed": ("deadline_id", "proposed_due_on"),
    "deadline.proposal_decided": ("deadline_id", "accepted"),
    "item.contact_assigned": ("partner_id",),
}
_REMINDER_FIELDS = ("deadline_id", "step", "due_on", "offset_working_days", "escalation")


async def _timeline_only(batch: Batch, envelope: EventEnvelope, data: Any) -> None:
    fields = _TIMELINE_FIELDS.get(envelope.type, _REMINDER_FIELDS)
    batch.add_timeline_entry(
        envelope, data.item_id, paris_date(envelope.occurred_at), _json(envelope, *fields)
    )


Handler = Callable[[Batch, EventEnvelope, Any], Awaitable[None]]
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


async def apply(batch: Batch, envelope: EventEnvelope) -> None:
    """Apply one event of the commitments stream (contacts and keys say nothing reports need: only recorded
    as seen)."""
    handler = HANDLERS.get(envelope.type)
    if handler is not None:
        await handler(batch, envelope, envelope.parsed())
