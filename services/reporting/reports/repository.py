"""Queries on the read model. Each report is a few statements whatever the number of items: counts and sums
are made by the database, and only what must be listed comes back row by row.

`visible` narrows a query to the items a partner may see (None: every item): those where one of these
partners is the lead or is associated, as the commitments service scopes them."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Date, Row, Uuid, and_, bindparam, case, exists, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Select

from services.reporting.projection.models import (
    Axis,
    Deadline,
    Delivery,
    Item,
    ItemPartner,
    Objective,
    Partner,
    PartnerMember,
    Plan,
    TimelineEntry,
)
from services.reporting.statuses import FINISHED

Visible = Collection[uuid.UUID] | None


def _visible_items(visible: Visible) -> ColumnElement[bool]:
    if visible is None:
        return true()
    return exists().where(ItemPartner.item_id == Item.id, ItemPartner.partner_id.in_(list(visible)))


def _not_finished() -> ColumnElement[bool]:
    """The item is not finished. The statuses as one bound parameter each, not as a list: a list is an
    "expanding" parameter, whose SQL SQLAlchemy renders anew at every execution of a statement built once."""
    return Item.status.not_in([literal(status) for status in sorted(FINISHED)])


def _open_deadline() -> ColumnElement[bool]:
    """A deadline still to be met, of an item not finished."""
    return and_(Deadline.met_on.is_(None), Deadline.removed.is_(False), _not_finished())


async def partners(session: AsyncSession, visible: Visible) -> Sequence[Partner]:
    query = select(Partner).order_by(Partner.name, Partner.id)
    if visible is not None:
        query = query.where(Partner.id.in_(list(visible)))
    return (await session.scalars(query)).all()


def _between(column: Any, start: Any, end: Any) -> ColumnElement[bool]:
    """`column BETWEEN start AND end`: dates, or the bound parameters of a statement built once."""
    between: ColumnElement[bool] = column.between(start, end)
    return between


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# The scorecard's statements are built once, with named parameters: building them takes longer than running
# them (SQLAlchemy caches a statement's compiled form by its structure, and a statement built once has its
# cache key ready). Parameters: partner_id, start, end (the period), today, very_late_before.
_PARTNER = bindparam("partner_id", type_=Uuid)
_START, _END = bindparam("start", type_=Date), bindparam("end", type_=Date)
_TODAY, _VERY_LATE_BEFORE = bindparam("today", type_=Date), bindparam("very_late_before", type_=Date)


def _step_counts() -> Select[Any]:
    """Requests led by the partner: how many reached each step within the period."""
    answered = _between(Item.answered_on, _START, _END)
    return select(
        _count_if(_between(Item.requested_on, _START, _END)).label("requested"),
        _count_if(_between(Item.acknowledged_on, _START, _END)).label("acknowledged"),
        _count_if(answered).label("answered"),
        _count_if(and_(answered, Item.answered_by_deadline.is_(True))).label("answered_by_deadline"),
        _count_if(and_(answered, Item.answered_by_deadline.is_not(None))).label("answered_with_deadline"),
        _count_if(_between(Item.delivered_on, _START, _END)).label("delivered"),
        _count_if(_between(Item.verified_on, _START, _END)).label("verified"),
    ).where(Item.lead_partner_id == _PARTNER, Item.kind == "request")


def _response_delays() -> Select[Any]:
    """The median and the 90th percentile (nearest rank) of the partner's response delays in the period, worked
    out by the database: each delay ranked within the n delays by a window function, then the middle one or
    the mean of the two middle ones (ranks (n + 1) // 2 and (n + 2) // 2), and the one of rank ceil(0.9 n) =
    (9 n + 9) // 10. One row; NULLs without any delay."""
    delay = Item.response_delay_working_days
    ranked = (
        select(
            delay.label("delay"),
            func.row_number().over(order_by=delay).label("rank"),
            func.count().over().label("n"),
        )
        .where(
            Item.lead_partner_id == _PARTNER,
            Item.kind == "request",
            _between(Item.answered_on, _START, _END),
            delay.is_not(None),
        )
        .subquery()
    )
    middle = ranked.c.rank.in_(((ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2))
    return select(
        func.avg(case((middle, ranked.c.delay))).label("median_delay"),
        func.max(case((ranked.c.rank == (9 * ranked.c.n + 9) // 10, ranked.c.delay))).label("p90_delay"),
    )


def _lateness() -> Select[Any]:
    """The partner's late requests now (an open date passed), in all and by the party they wait on; and those
    very late (their earliest open date before `very_late_before`), the same way."""
    earliest = (
        select(Item.waiting_on, func.min(Deadline.due_on).label("due_on"))
        .join(Deadline, Deadline.item_id == Item.id)
        .where(
            Item.lead_partner_id == _PARTNER,
            Item.kind == "request",
            _open_deadline(),
            Deadline.due_on < _TODAY,
        )
        .group_by(Item.id, Item.waiting_on)
        .subquery()
    )
    very_late = earliest.c.due_on < _VERY_LATE_BEFORE
    on_partner, on_city = earliest.c.waiting_on == "partner", earliest.c.waiting_on == "city"
    return select(
        func.count().label("late"),
        _count_if(on_partner).label("late_on_partner"),
        _count_if(on_city).label("late_on_city"),
        _count_if(very_late).label("very_late"),
        _count_if(and_(very_late, on_partner)).label("very_late_on_partner"),
        _count_if(and_(very_late, on_city)).label("very_late_on_city"),
    )


def _reminders() -> Select[Any]:
    """Reminders (by reminder key) to the partner's people first seen in the period: how many reached
    someone, and how many failed to reach anyone (every delivery refused, or bounced)."""
    reached = and_(Delivery.sent_on.is_not(None), Delivery.bounced_on.is_(None))
    failed = case((Delivery.failed_on.is_not(None) | Delivery.bounced_on.is_not(None), 1), else_=0)
    per_reminder = (
        select(
            Delivery.reminder_key,
            func.max(case((reached, 1), else_=0)).label("reached"),
            func.max(failed).label("failed"),
        )
        .where(Delivery.partner_id == _PARTNER, _between(Delivery.first_seen_on, _START, _END))
        .group_by(Delivery.reminder_key)
        .subquery()
    )
    return select(
        _count_if(per_reminder.c.reached == 1).label("sent"),
        _count_if(and_(per_reminder.c.reached == 0, per_reminder.c.failed == 1)).label("unreached"),
    )


def _scorecard() -> Select[Any]:
    """A partner's whole scorecard in one row, in one statement (none if the partner is unknown): its name,
    step counts, response delays, lateness and reminder counts, each part an aggregate of one row joined on
    true."""
    parts = [
        part().subquery(name)
        for name, part in (
            ("steps", _step_counts),
            ("delays", _response_delays),
            ("lateness", _lateness),
            ("reminders", _reminders),
        )
    ]
    joined: Any = Partner.__table__
    for part in parts:
        joined = joined.join(part, true())
    return (
        select(Partner.name, *(column for part in parts for column in part.c))
        .select_from(joined)
        .where(Partner.id == _PARTNER)
    )


SCORECARD = _scorecard()


async def scorecard_row(
    session: AsyncSession, partner_id: uuid.UUID, start: date, end: date, today: date, very_late_before: date
) -> Row[Any] | None:
    """A partner's scorecard figures (`SCORECARD`'s row); None when the partner is unknown."""
    params = {
        "partner_id": partner_id,
        "start": start,
        "end": end,
        "today": today,
        "very_late_before": very_late_before,
    }
    # On the session's connection: plain rows, without the ORM's work per statement (none is needed here).
    connection = await session.connection()
    return (await connection.execute(SCORECARD, params)).first()


async def plan(session: AsyncSession, plan_id: uuid.UUID) -> Plan | None:
    return await session.get(Plan, plan_id)


async def plan_structure(
    session: AsyncSession, plan_id: uuid.UUID
) -> tuple[Sequence[Axis], Sequence[Objective]]:
    axes = (
        await session.scalars(
            select(Axis).where(Axis.plan_id == plan_id).order_by(Axis.position, Axis.number, Axis.id)
        )
    ).all()
    objectives = (
        await session.scalars(
            select(Objective)
            .where(Objective.plan_id == plan_id)
            .order_by(Objective.position, Objective.letter, Objective.id)
        )
    ).all()
    return axes, objectives


async def status_counts(session: AsyncSession, plan_id: uuid.UUID, visible: Visible) -> list[Row[Any]]:
    """Per objective and status: how many items, and the sum of their progress (in percent)."""
    progress = case(
        (Item.status.in_(("verified", "done")), 100), else_=func.coalesce(Item.progress_percent, 0)
    )
    query = (
        select(
            Item.objective_id,
            Item.status,
            func.count().label("items"),
            func.coalesce(func.sum(progress), 0).label("progress"),
        )
        .where(Item.plan_id == plan_id, _visible_items(visible))
        .group_by(Item.objective_id, Item.status)
    )
    return list((await session.execute(query)).all())


def late_items_query(
    today: date, visible: Visible, plan_id: uuid.UUID | None = None, partner_id: uuid.UUID | None = None
) -> Select[Any]:
    """Items with an open date passed, the earliest first: id, title, objective, lead, waiting_on, due_on."""
    earliest = func.min(Deadline.due_on).label("due_on")
    columns = (
        Item.id,
        Item.title,
        Item.kind,
        Item.status,
        Item.plan_id,
        Item.objective_id,
        Item.lead_partner_id,
        Item.waiting_on,
    )
    query = (
        select(*columns, earliest)
        .join(Deadline, Deadline.item_id == Item.id)
        .where(_open_deadline(), Deadline.due_on < today, _visible_items(visible))
        .group_by(*columns)
        .order_by(earliest, Item.id)
    )
    if plan_id is not None:
        query = query.where(Item.plan_id == plan_id)
    if partner_id is not None:
        query = query.where(Item.lead_partner_id == partner_id)
    return query


async def late_items(
    session: AsyncSession,
    today: date,
    visible: Visible,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    limit: int = 1000,
) -> list[Row[Any]]:
    return list(
        (await session.execute(late_items_query(today, visible, plan_id, partner_id).limit(limit))).all()
    )


async def deadlines(
    session: AsyncSession,
    visible: Visible,
    *,
    due_from: date | None = None,
    due_before: date | None = None,
    open_only: bool = True,
    moved_only: bool = False,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    limit: int = 1000,
    owner_contact_id: uuid.UUID | None = None,
) -> list[Row[Any]]:
    """Deadlines with their item, by date in force, then item title (`owner_contact_id`: of the items that city
    agent is in charge of)."""
    query = (
        select(
            Deadline.id,
            Deadline.item_id,
            Deadline.kind,
            Deadline.original_due_on,
            Deadline.due_on,
            Deadline.met_on,
            Item.title,
            Item.status,
            Item.plan_id,
            Item.lead_partner_id,
            Item.waiting_on,
        )
        .join(Item, Item.id == Deadline.item_id)
        .where(Deadline.removed.is_(False), _visible_items(visible))
        .order_by(Deadline.due_on, Item.title, Deadline.id)
        .limit(limit)
    )
    if open_only:
        query = query.where(_open_deadline())
    if due_from is not None:
        query = query.where(Deadline.due_on >= due_from)
    if due_before is not None:
        query = query.where(Deadline.due_on < due_before)
    if moved_only:
        query = query.where(Deadline.due_on != Deadline.original_due_on)
    if plan_id is not None:
        query = query.where(Item.plan_id == plan_id)
    if partner_id is not None:
        query = query.where(Item.lead_partner_id == partner_id)
    if owner_contact_id is not None:
        query = query.where(Item.owner_contact_id == owner_contact_id)
    return list((await session.execute(query)).all())


async def visible_item(session: AsyncSession, item_id: uuid.UUID, visible: Visible) -> Item | None:
    return (await session.scalars(select(Item).where(Item.id == item_id, _visible_items(visible)))).first()


async def timeline(session: AsyncSession, item_id: uuid.UUID) -> Sequence[TimelineEntry]:
    return (
        await session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.item_id == item_id)
            .order_by(TimelineEntry.occurred_at, TimelineEntry.stream, TimelineEntry.stream_seq)
        )
    ).all()


async def partner_names(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Partner.id, Partner.name).where(Partner.id.in_(list(ids))))
    return {row.id: row.name for row in rows}


# Exports and calendar feeds (services/reporting/exports/, services/reporting/calendar/).


def _next_open_due() -> Any:
    """The earliest open date of the item of the enclosing query (None once it is finished)."""
    return (
        select(func.min(Deadline.due_on))
        .where(
            Deadline.item_id == Item.id,
            Deadline.met_on.is_(None),
            Deadline.removed.is_(False),
            _not_finished(),
        )
        .correlate(Item)
        .scalar_subquery()
    )


async def export_items(
    session: AsyncSession,
    visible: Visible,
    plan_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
) -> list[Row[Any]]:
    """Items with their plan, axis and objective, the lead partner's name and their earliest open date, in the
    plan's order (axis, objective), then by title."""
    query = (
        select(
            Item.id,
            Item.kind,
            Item.title,
            Item.status,
            Item.waiting_on,
            Item.progress_percent,
            Item.created_on,
            Item.requested_on,
            Item.acknowledged_on,
            Item.answered_on,
            Item.delivered_on,
            Item.verified_on,
            Item.response_delay_working_days,
            Item.lead_partner_id,
            Plan.title.label("plan_title"),
            Plan.commune,
            Axis.number.label("axis_number"),
            Axis.title.label("axis_title"),
            Objective.letter.label("objective_letter"),
            Objective.title.label("objective_title"),
            Partner.name.label("lead_partner_name"),
            _next_open_due().label("next_due_on"),
        )
        .outerjoin(Plan, Plan.id == Item.plan_id)
        .outerjoin(Objective, Objective.id == Item.objective_id)
        .outerjoin(Axis, Axis.id == Objective.axis_id)
        .outerjoin(Partner, Partner.id == Item.lead_partner_id)
        .where(_visible_items(visible))
        .order_by(Plan.title, Item.plan_id, Axis.position, Objective.position, Item.title, Item.id)
    )
    if plan_id is not None:
        query = query.where(Item.plan_id == plan_id)
    if partner_id is not None:
        query = query.where(Item.lead_partner_id == partner_id)
    return list((await session.execute(query)).all())


async def organisation_of(session: AsyncSession, partner_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """A partner and the groups it belongs to: what a key of that partner sees (empty: no such partner)."""
    if await session.get(Partner, partner_id) is None:
        return frozenset()
    groups = await session.scalars(
        select(PartnerMember.group_id).where(PartnerMember.member_id == partner_id)
    )
    return frozenset({partner_id, *groups})


# --- Added for the intranet page (services/reporting/pages/) -------------------------------------------------


async def plans(session: AsyncSession, visible: Visible) -> Sequence[Plan]:
    """The plans, by title; for a partner, those holding at least one of its items."""
    query = select(Plan).order_by(Plan.title, Plan.id)
    if visible is not None:
        query = query.where(exists().where(Item.plan_id == Plan.id, _visible_items(visible)))
    return (await session.scalars(query)).all()
