from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.deadlines.models import Deadline
from services.commitments.items.models import Item, ItemPartner
from services.commitments.reminders.models import ReminderFiring, ReminderRuleSet, ReminderSchedule
from shared.db import insert_ignoring_conflicts

Scope = str  # "plan" | "partner" | "item"

_SCOPE_COLUMN = {
    "plan": ReminderRuleSet.plan_id,
    "partner": ReminderRuleSet.partner_id,
    "item": ReminderRuleSet.item_id,
}


async def get_rule_set(session: AsyncSession, scope: Scope, target_id: uuid.UUID) -> ReminderRuleSet | None:
    return (await session.execute(select(ReminderRuleSet).where(_SCOPE_COLUMN[scope] == target_id))).scalar()


async def delete_rule_set(session: AsyncSession, rule_set: ReminderRuleSet) -> None:
    await session.delete(rule_set)
    await session.flush()


async def rule_sets_for(
    session: AsyncSession,
    plan_ids: Collection[uuid.UUID],
    partner_ids: Collection[uuid.UUID],
    item_ids: Collection[uuid.UUID],
) -> dict[tuple[str, uuid.UUID], dict[str, Any]]:
    """The overrides of these plans, partners and items, keyed by (scope, id), in one statement."""
    conditions = [
        column.in_(list(ids))
        for column, ids in (
            (ReminderRuleSet.plan_id, plan_ids),
            (ReminderRuleSet.partner_id, partner_ids),
            (ReminderRuleSet.item_id, item_ids),
        )
        if ids
    ]
    if not conditions:
        return {}
    found: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}
    for rule_set in (await session.scalars(select(ReminderRuleSet).where(or_(*conditions)))).all():
        for scope, target in (
            ("plan", rule_set.plan_id),
            ("partner", rule_set.partner_id),
            ("item", rule_set.item_id),
        ):
            if target is not None:
                found[(scope, target)] = rule_set.overrides
    return found


async def lead_partners(session: AsyncSession, item_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    if not item_ids:
        return {}
    query = select(ItemPartner.item_id, ItemPartner.partner_id).where(
        ItemPartner.item_id.in_(list(item_ids)), ItemPartner.role == "lead"
    )
    return dict((await session.execute(query)).tuples().all())


async def schedules_of_item(session: AsyncSession, item_id: uuid.UUID) -> dict[uuid.UUID, ReminderSchedule]:
    query = select(ReminderSchedule).where(ReminderSchedule.item_id == item_id)
    return {s.deadline_id: s for s in (await session.scalars(query)).all()}


async def get_schedule(session: AsyncSession, deadline_id: uuid.UUID) -> ReminderSchedule | None:
    return await session.get(ReminderSchedule, deadline_id)


async def deadlines_of_item(session: AsyncSession, item_id: uuid.UUID) -> Sequence[Deadline]:
    return (await session.scalars(select(Deadline).where(Deadline.item_id == item_id))).all()


class DueSchedule(NamedTuple):
    """One claimed schedule with what the scanner reads of its deadline and item: plain values, no ORM state
    (the scanner writes the schedule back in bulk, see `save_schedules`)."""

    deadline_id: uuid.UUID
    item_id: uuid.UUID
    deadline_version: int  # the version this schedule follows (may lag the deadline's)
    arming: int
    anchor_on: date | None
    armed_at: datetime
    handled_until: datetime
    escalation: str
    current_version: int  # the deadline's version
    kind: str  # the deadline's kind
    due_on: date
    met_on: date | None
    plan_id: uuid.UUID
    item_kind: str
    status: str
    trace_context: dict[str, str] | None  # of the request that dated the deadline


_DUE_COLUMNS = (
    ReminderSchedule.deadline_id,
    ReminderSchedule.item_id,
    ReminderSchedule.deadline_version,
    ReminderSchedule.arming,
    ReminderSchedule.anchor_on,
    ReminderSchedule.armed_at,
    ReminderSchedule.handled_until,
    ReminderSchedule.escalation,
    Deadline.version,
    Deadline.kind,
    Deadline.due_on,
    Deadline.met_on,
    Item.plan_id,
    Item.kind,
    Item.status,
    ReminderSchedule.trace_context,
)


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[DueSchedule]:
    """The schedules due at `now`, oldest first, locked for this transaction; on PostgreSQL rows another
    scanner holds are skipped, not waited for (SQLite has one writer: the transaction already serialises)."""
    query = (
        select(*_DUE_COLUMNS)
        .join(Deadline, Deadline.id == ReminderSchedule.deadline_id)
        .join(Item, Item.id == ReminderSchedule.item_id)
        .where(ReminderSchedule.next_fire_at <= now)
        .order_by(ReminderSchedule.next_fire_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=ReminderSchedule)
    )
    return [DueSchedule(*row) for row in (await session.execute(query)).all()]


async def save_schedules(session: AsyncSession, states: Sequence[Mapping[str, Any]]) -> None:
    """Write these schedules' new states, each a mapping of columns with its `deadline_id`, in one executemany
    (the ORM's bulk UPDATE by primary key; objects already in the session are not refreshed)."""
    if states:
        await session.execute(update(ReminderSchedule), list(states))


async def upcoming(
    session: AsyncSession, horizon: datetime, visible_partner_ids: frozenset[uuid.UUID] | None, limit: int
) -> list[tuple[ReminderSchedule, Deadline, Item]]:
    """Armed schedules with something to send before `horizon` (scoped to a partner's items if given)."""
    query = (
        select(ReminderSchedule, Deadline, Item)
        .join(Deadline, Deadline.id == ReminderSchedule.deadline_id)
        .join(Item, Item.id == ReminderSchedule.item_id)
        .where(ReminderSchedule.next_fire_at <= horizon)
        .order_by(ReminderSchedule.next_fire_at, ReminderSchedule.deadline_id)
        .limit(limit)
    )
    if visible_partner_ids is not None:
        query = query.where(
            Item.id.in_(
                select(ItemPartner.item_id).where(ItemPartner.partner_id.in_(list(visible_partner_ids)))
            )
        )
    return list((await session.execute(query)).tuples().all())


def _in_scope(scope: Scope, target_id: uuid.UUID) -> ColumnElement[bool]:
    if scope == "item":
        return ReminderSchedule.item_id == target_id
    if scope == "plan":
        return ReminderSchedule.item_id.in_(select(Item.id).where(Item.plan_id == target_id))
    return ReminderSchedule.item_id.in_(
        select(ItemPartner.item_id).where(ItemPartner.partner_id == target_id, ItemPartner.role == "lead")
    )


async def recompute_soon(session: AsyncSession, scope: Scope, target_id: uuid.UUID, now: datetime) -> None:
    """Ask the scanner to recompute every schedule under this plan, partner or item at its next tick: one
    waiting for a later step is brought forward; one the scanner disarmed (NULL: inactive, or nothing left) is
    armed again from now, so the steps that passed while it was disarmed never fire (one statement: the
    schedules themselves are recomputed in the scanner's batches)."""
    disarmed = ReminderSchedule.next_fire_at.is_(None)
    # SET expressions read the row as it was: `disarmed` is evaluated before next_fire_at changes.
    await session.execute(
        update(ReminderSchedule)
        .where(_in_scope(scope, target_id), or_(disarmed, ReminderSchedule.next_fire_at > now))
        .values(
            next_fire_at=now,
            handled_until=case((disarmed, now), else_=ReminderSchedule.handled_until),
            armed_at=case((disarmed, now), else_=ReminderSchedule.armed_at),
        )
        .execution_options(synchronize_session=False)
    )


async def rearm_kinds(
    session: AsyncSession, item_id: uuid.UUID, kinds: Collection[str], now: datetime
) -> None:
    """Arm the item's schedules of these deadline kinds again from now, whatever their state: they were silent
    until now, so no step that passed meanwhile fires (even if no scanner tick disarmed them in between)."""
    await session.execute(
        update(ReminderSchedule)
        .where(
            ReminderSchedule.item_id == item_id,
            ReminderSchedule.deadline_id.in_(
                select(Deadline.id).where(Deadline.item_id == item_id, Deadline.kind.in_(list(kinds)))
            ),
        )
        .values(next_fire_at=now, handled_until=now, armed_at=now)
        .execution_options(synchronize_session=False)
    )


async def put_off(session: AsyncSession, deadline_ids: Collection[uuid.UUID], until: datetime) -> None:
    """Move these schedules' next look to `until` (rows that failed: the scanner tries them again then)."""
    await session.execute(
        update(ReminderSchedule)
        .where(ReminderSchedule.deadline_id.in_(list(deadline_ids)))
        .values(next_fire_at=until)
        .execution_options(synchronize_session=False)
    )


async def insert_firings(session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    """Insert firing rows, ignoring keys that already fired; returns the keys inserted now. One statement,
    compiled once and cached: the rows go as an executemany, which SQLAlchemy sends as multi-row INSERTs
    ("insertmanyvalues") with their RETURNING."""
    if not rows:
        return set()
    table = ReminderFiring.__table__
    statement = insert_ignoring_conflicts(session, table, "reminder_key").returning(table.c.reminder_key)
    return set((await session.scalars(statement, rows)).all())


async def firings_of(
    session: AsyncSession, deadline_ids: Collection[uuid.UUID] | None = None
) -> Sequence[ReminderFiring]:
    query = select(ReminderFiring).order_by(ReminderFiring.fire_at, ReminderFiring.reminder_key)
    if deadline_ids is not None:
        query = query.where(ReminderFiring.deadline_id.in_(list(deadline_ids)))
    return (await session.scalars(query)).all()
