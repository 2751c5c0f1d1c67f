"""Reminder rules per plan, partner and item; arming each deadline's schedule; what will go out next.

When reminders run (decided here, documented in the README):
- never for a draft request (not sent yet), nor once the item is delivered, verified, done, declined or
  abandoned, nor for a met deadline;
- a response deadline stops once the request is answered (accepted, partially accepted, declined, or work
  started): an acknowledgement of receipt is not an answer, so its reminders go on, but it counts as a
  response from the partner and resets escalation. A request still waiting after its response deadline becomes
  « sans réponse » at its first overdue reminder, and the reminders go on: silence is never acceptance;
- delivery deadlines and milestones are reminded like response deadlines, for requests and city commitments.

Schedules are recomputed lazily: a change (new date, new rules, new status) only brings the schedule's
`next_fire_at` forward to now; the scanner recomputes it from the rules at its next tick, in batches.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.deadlines.events import DeadlineDated, MilestoneMetChanged
from services.commitments.deadlines.models import Deadline
from services.commitments.history.service import record_change
from services.commitments.items import events as item_events
from services.commitments.items.lifecycle import NEVER_LATE, Status, deadline_running
from services.commitments.items.models import Item
from services.commitments.recipients import service as recipients_service
from services.commitments.recipients.schemas import Audience
from services.commitments.reminders import repository
from services.commitments.reminders import rules as r
from services.commitments.reminders.models import ReminderRuleSet, ReminderSchedule
from services.commitments.reminders.repository import Scope
from services.commitments.reminders.schemas import (
    ReminderRulesRead,
    ReminderRulesUpdate,
    RulesDocument,
    UpcomingReminder,
)
from shared.auth import Principal
from shared.calendar import WorkingCalendar, default_calendar
from shared.clock import Clock, paris_today
from shared.telemetry import inject_trace_context

# Statuses in which no deadline of the item is reminded: not sent yet, or finished one way or another.
SILENT = NEVER_LATE
# A partner's move that counts as a response (escalation starts again): an acknowledgement, an answer, work.
RESPONSES = frozenset({Status.ACKNOWLEDGED, Status.ACCEPTED, Status.PARTIALLY_ACCEPTED, Status.IN_PROGRESS})
MAX_UPCOMING = 1000


# Whether a deadline of an item in this status is being reminded: the items' lifecycle says (recipients asks
# too).
is_active = deadline_running

DEADLINE_KINDS = ("response", "delivery", "milestone")


def _active_kinds(status: str) -> tuple[bool, ...]:
    return tuple(is_active(kind, None, status) for kind in DEADLINE_KINDS)


# ------------------------------------------------------------------------------------------------ rules API


async def _chain(
    session: AsyncSession, scope: Scope, target_id: uuid.UUID, item: Item | None
) -> list[dict[str, object] | None]:
    """The overrides that make up this level's effective rules, least specific first."""
    if scope != "item" or item is None:
        rule_set = await repository.get_rule_set(session, scope, target_id)
        return [rule_set.overrides if rule_set else None]
    lead = (await repository.lead_partners(session, [item.id])).get(item.id)
    found = await repository.rule_sets_for(session, [item.plan_id], [lead] if lead else [], [item.id])
    return [
        found.get(("plan", item.plan_id)),
        found.get(("partner", lead)) if lead else None,
        found.get(("item", item.id)),
    ]


async def get_rules(
    session: AsyncSession, scope: Scope, target_id: uuid.UUID, item: Item | None = None
) -> ReminderRulesRead:
    """A level's own override and the rules that result (for an item: plan → lead partner → item)."""
    rule_set = await repository.get_rule_set(session, scope, target_id)
    chain = await _chain(session, scope, target_id, item)
    return ReminderRulesRead(
        scope=scope,
        target_id=target_id,
        override=rule_set.overrides if rule_set else None,
        effective=RulesDocument(**r.merge(*chain).as_document()),
        updated_at=rule_set.updated_at if rule_set else None,
    )


async def put_rules(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    scope: Scope,
    target_id: uuid.UUID,
    data: ReminderRulesUpdate,
    item: Item | None = None,
) -> ReminderRulesRead:
    """Replace a level's override; the schedules it governs are recomputed by the scanner's next tick."""
    document = data.document()
    rule_set = await repository.get_rule_set(session, scope, target_id)
    before = rule_set.overrides if rule_set else None
    if rule_set is None:
        rule_set = ReminderRuleSet(**{f"{scope}_id": target_id}, overrides=document, updated_at=clock.now())
        session.add(rule_set)
    else:
        rule_set.overrides, rule_set.updated_at = document, clock.now()
    await session.flush()
    record_change(
        session,
        actor,
        clock,
        entity_type="reminder_rules",
        entity_id=rule_set.id,
        item_id=target_id if scope == "item" else None,
        action="updated",
        changes={"scope": scope, "target_id": target_id, "overrides": [before, document]},
    )
    await repository.recompute_soon(session, scope, target_id, clock.now())
    return await get_rules(session, scope, target_id, item)


async def delete_rules(
    session: AsyncSession, actor: Principal, clock: Clock, scope: Scope, target_id: uuid.UUID
) -> None:
    """Drop a level's override: it inherits everything again (nothing to drop is not an error)."""
    rule_set = await repository.get_rule_set(session, scope, target_id)
    if rule_set is None:
        return
    record_change(
        session,
        actor,
        clock,
        entity_type="reminder_rules",
        entity_id=rule_set.id,
        item_id=target_id if scope == "item" else None,
        action="deleted",
        changes={"scope": scope, "target_id": target_id, "overrides": [rule_set.overrides, None]},
    )
    await repository.delete_rule_set(session, rule_set)
    await repository.recompute_soon(session, scope, target_id, clock.now())


# ------------------------------------------------------------------------------------------------ reactions
# What other packages' changes do to reminders (domain events, wired in subscriptions.py).


async def on_deadline_dated(session: AsyncSession, clock: Clock, event: DeadlineDated) -> None:
    await deadline_dated(session, clock, event.deadline)


async def on_item_status_changed(
    session: AsyncSession, clock: Clock, event: item_events.StatusChanged
) -> None:
    await item_status_changed(session, clock, event.item, event.previous_status)


async def on_lead_changed(session: AsyncSession, clock: Clock, event: item_events.LeadChanged) -> None:
    # Another partner's rules, another partner reminded.
    await reminders_changed(session, clock, event.item_id)


async def on_milestone_met_changed(session: AsyncSession, clock: Clock, event: MilestoneMetChanged) -> None:
    await reminders_changed(session, clock, event.item_id)


async def on_partner_responded(
    session: AsyncSession, clock: Clock, event: item_events.PartnerResponded
) -> None:
    await partner_responded(session, clock, event.item_id)


async def deadline_dated(session: AsyncSession, clock: Clock, deadline: Deadline) -> None:
    """A deadline was created or moved: arm its schedule against the (new) date and version."""
    now = clock.now()
    # The reminders of this date carry on the trace of the request that set it (None outside any trace).
    trace_context = dict(inject_trace_context({})) or None
    schedule = await repository.get_schedule(session, deadline.id)
    if schedule is None:
        session.add(
            ReminderSchedule(
                deadline_id=deadline.id,
                item_id=deadline.item_id,
                deadline_version=deadline.version,
                arming=0,
                anchor_on=None,
                armed_at=now,
                handled_until=now,
                escalation="none",
                next_fire_at=now,
                trace_context=trace_context,
            )
        )
        return
    if schedule.deadline_version != deadline.version:
        # A new version is a new set of keys: the steps of the new date fire, each once; past ones never.
        schedule.deadline_version, schedule.arming, schedule.anchor_on = deadline.version, 0, None
        schedule.escalation, schedule.armed_at, schedule.handled_until = "none", now, now
    schedule.next_fire_at, schedule.trace_context = now, trace_context


async def item_status_changed(session: AsyncSession, clock: Clock, item: Item, previous_status: str) -> None:
    """Stop or restart the item's reminders when its new status changes which of its deadlines run; a response
    from the partner resets escalation."""
    if Status(item.status) in RESPONSES:
        await partner_responded(session, clock, item.id)
    before, after = _active_kinds(previous_status), _active_kinds(item.status)
    if before != after:
        # Kinds silent until now (a draft sent, a delivered item reopened) start again from now.
        woken = [
            kind for kind, was, is_ in zip(DEADLINE_KINDS, before, after, strict=True) if is_ and not was
        ]
        if woken:
            await repository.rearm_kinds(session, item.id, woken, clock.now())
        await repository.recompute_soon(session, "item", item.id, clock.now())


async def reminders_changed(session: AsyncSession, clock: Clock, item_id: uuid.UUID) -> None:
    """Something that shapes the item's reminders changed (lead partner, a milestone met or reopened): the
    scanner recomputes its schedules at its next tick."""
    await repository.recompute_soon(session, "item", item_id, clock.now())


async def partner_responded(
    session: AsyncSession, clock: Clock, item_id: uuid.UUID, calendar: WorkingCalendar | None = None
) -> None:
    """The partner answered, acknowledged, reported progress or proposed a date: for each overdue deadline a new
    arming starts today, so escalation counts again from now (the reminder key changes with it)."""
    calendar = calendar or default_calendar()
    now, today = clock.now(), paris_today(clock)
    schedules = await repository.schedules_of_item(session, item_id)
    if not schedules:
        return
    for deadline in await repository.deadlines_of_item(session, item_id):
        schedule = schedules.get(deadline.id)
        if (
            schedule is None
            or deadline.met_on is not None
            or today <= r.effective_due(deadline.due_on, calendar)
        ):
            continue
        schedule.arming += 1
        schedule.anchor_on, schedule.escalation = today, "none"
        schedule.armed_at = schedule.handled_until = schedule.next_fire_at = now


# ------------------------------------------------------------------------------------------------ preview


async def upcoming(
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    days: int,
    limit: int = MAX_UPCOMING,
    calendar: WorkingCalendar | None = None,
) -> list[UpcomingReminder]:
    """The reminders the scanner will send in the next `days` days (a partner: about its own items only)."""
    calendar = calendar or default_calendar()
    now = clock.now()
    horizon = now + timedelta(days=days)
    rows = await repository.upcoming(
        session, horizon, principal.visible_partner_ids if principal.is_partner else None, limit
    )
    item_ids = {item.id for _, _, item in rows}
    leads = await repository.lead_partners(session, item_ids)
    overrides = await repository.rule_sets_for(
        session, {item.plan_id for _, _, item in rows}, set(leads.values()), item_ids
    )
    found: list[UpcomingReminder] = []
    for schedule, deadline, item in rows:
        if (
            not is_active(deadline.kind, deadline.met_on, item.status)
            or schedule.deadline_version != deadline.version
        ):
            continue
        lead = leads.get(item.id)
        rules = r.merge(
            overrides.get(("plan", item.plan_id)),
            overrides.get(("partner", lead)) if lead else None,
            overrides.get(("item", item.id)),
        )
        steps = r.schedule(deadline.due_on, rules, calendar, schedule.anchor_on)
        ahead = [s for s in steps if schedule.handled_until < s.fire_at <= horizon]
        missed = [s for s in ahead if s.fire_at <= now]
        # Catch-up sends only the latest missed step: show that one, then the future ones.
        announced = schedule.escalation
        for step in missed[-1:] + [s for s in ahead if s.fire_at > now]:
            found.append(
                UpcomingReminder(
                    reminder_key=r.reminder_key(
                        deadline.id, schedule.deadline_version, schedule.arming, step.name
                    ),
                    event_type=step.event_type(announced),
                    fire_at=step.fire_at,
                    step=step.name,
                    offset_working_days=step.offset,
                    escalation=step.escalation,
                    audience=list(step.audience(item.kind)),
                    partner_ids=[lead] if lead and item.kind == "request" else [],
                    deadline_id=deadline.id,
                    deadline_kind=deadline.kind,
                    due_on=deadline.due_on,
                    deadline_version=deadline.version,
                    item_id=item.id,
                    item_title=item.title,
                    plan_id=item.plan_id,
                )
            )
            if r.ESCALATION_RANK[step.escalation] > r.ESCALATION_RANK[announced]:
                announced = step.escalation
    found.sort(key=lambda u: (u.fire_at, str(u.deadline_id)))
    found = found[:limit]
    if principal.role in recipients_service.RECIPIENT_READERS:
        await _add_recipients(session, clock, found, {item.id: item for _, _, item in rows})
    return found


async def _add_recipients(
    session: AsyncSession, clock: Clock, reminders: list[UpcomingReminder], items: dict[uuid.UUID, Item]
) -> None:
    """Name the people behind each reminder's audience, as the notifications service would resolve them today
    (it resolves them again when it sends); one resolution per item."""
    sets: dict[uuid.UUID, set[tuple[Audience, ...]]] = {}
    for reminder in reminders:
        sets.setdefault(reminder.item_id, set()).add(tuple(Audience(a) for a in reminder.audience))
    resolved = {
        item_id: await recipients_service.reminder_recipients(session, clock, items[item_id], audience_sets)
        for item_id, audience_sets in sets.items()
    }
    for reminder in reminders:
        reminder.recipients = resolved[reminder.item_id][tuple(Audience(a) for a in reminder.audience)]
