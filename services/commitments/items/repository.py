from __future__ import annotations

import collections
import functools
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    Uuid,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.deadlines.models import Deadline
from services.commitments.items.lifecycle import NEVER_LATE, Status
from services.commitments.items.models import Item, ItemPartner, ItemTag
from services.commitments.items.permissions import Relation
from services.commitments.partners.models import GroupMembership
from services.commitments.plans.models import Objective


@dataclass
class ItemFilters:
    partner_ids: frozenset[uuid.UUID] | None = None  # items concerning any of these partners
    visible_partner_ids: frozenset[uuid.UUID] | None = None  # scoping of a partner key
    statuses: Sequence[str] = ()
    kind: str | None = None
    plan_id: uuid.UUID | None = None
    axis_id: uuid.UUID | None = None
    objective_id: uuid.UUID | None = None
    overdue_as_of: date | None = None
    not_overdue_as_of: date | None = None
    due_before: date | None = None
    due_after: date | None = None
    text: str | None = None
    tag: str | None = None
    needs_review: bool | None = None


def _open_deadline(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(Deadline.item_id == Item.id, Deadline.met_on.is_(None), *conditions)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# The listing is read as Core rows from the tables, not as ORM entities: loading 51 entities and building
# the statement anew for each request cost more than the database's work. Each shape of listing (which
# filters are set, the sort, first page or not, the backend) is built once, with named bind parameters, and
# kept: SQLAlchemy then finds its compiled form from the statement's memoized cache key, and asyncpg its
# prepared statement from the SQL text. On PostgreSQL the id and status lists are one array parameter
# (`= ANY(...)`): an expanding `IN` would be rendered anew at each execution.
_items: Table = Item.__table__  # type: ignore[assignment]  # a mapped class's __table__ is a Table
_parties: Table = ItemPartner.__table__  # type: ignore[assignment]  # a mapped class's __table__ is a Table
_tags: Table = ItemTag.__table__  # type: ignore[assignment]  # a mapped class's __table__ is a Table
_deadlines: Table = Deadline.__table__  # type: ignore[assignment]  # a mapped class's __table__ is a Table
_SORT_COLUMNS = {"created": _items.c.id, "title": _items.c.title, "updated": _items.c.updated_at}


@dataclass(frozen=True)
class _Shape:
    """What the page statement depends on, values aside."""

    postgresql: bool
    sort: str
    descending: bool
    after: bool
    filters: frozenset[str]  # names of the filters that are set


def _in_list(column: Any, name: str, item_type: Any, postgresql: bool) -> ColumnElement[bool]:
    if postgresql:
        return column == any_(bindparam(name, type_=ARRAY(item_type)))  # type: ignore[no-any-return]  # the column comes in as Any
    return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]  # the column comes in as Any


def _concerning(name: str, wanted: frozenset[str], postgresql: bool) -> ColumnElement[bool]:
    # One partner (the usual case) is an equality: its (partner_id, item_id) index then yields the item ids
    # in order, and PostgreSQL stops after the page. With several ids it has to sort them first.
    if name in wanted:
        condition = _parties.c.partner_id == bindparam(name, type_=Uuid())
    else:
        condition = _in_list(_parties.c.partner_id, name + "s", Uuid(), postgresql)
    return _items.c.id.in_(select(_parties.c.item_id).where(condition))


def _open_deadline_exists(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(_deadlines.c.item_id == _items.c.id, _deadlines.c.met_on.is_(None), *conditions)


def _page_detail_columns() -> list[Any]:
    # Correlated subqueries, so that on PostgreSQL a page and its details come back in one round trip.
    # ARRAY(SELECT ...) rather than array_agg: an item without associated partners or tags gets '{}'.
    of_item = _parties.c.item_id == _items.c.id
    lead = (
        select(_parties.c.partner_id)
        .where(of_item, _parties.c.role == "lead")
        .order_by(_parties.c.partner_id)
        .limit(1)
        .scalar_subquery()
    )
    associated = func.array(
        select(_parties.c.partner_id)
        .where(of_item, _parties.c.role != "lead")
        .order_by(_parties.c.partner_id)
        .scalar_subquery()
    )
    tags = func.array(
        select(_tags.c.tag).where(_tags.c.item_id == _items.c.id).order_by(_tags.c.tag).scalar_subquery()
    )
    next_due = (
        select(func.min(_deadlines.c.due_on))
        .where(_deadlines.c.item_id == _items.c.id, _deadlines.c.met_on.is_(None))
        .scalar_subquery()
    )
    return [
        lead.label("lead_partner_id"),
        associated.label("associated_partner_ids"),
        tags.label("tags"),
        next_due.label("next_due_on"),
    ]


@functools.lru_cache(maxsize=512)
def _page_statement(shape: _Shape) -> Select[Any]:
    pg, wanted = shape.postgresql, shape.filters
    query = select(*_items.c)
    for name in ("visible_partner_id", "partner_id"):
        if name in wanted or name + "s" in wanted:
            query = query.where(_concerning(name, wanted, pg))
    if "statuses" in wanted:
        query = query.where(_in_list(_items.c.status, "statuses", String(), pg))
    for name in ("kind", "plan_id", "axis_id", "objective_id", "needs_review"):
        if name in wanted:
            query = query.where(_items.c[name] == bindparam(name))
    # A finished item is late no more, and an unsent request never was.
    may_be_late = _items.c.status.not_in([s.value for s in NEVER_LATE])
    if "overdue_as_of" in wanted:
        query = query.where(
            may_be_late, _open_deadline_exists(_deadlines.c.due_on < bindparam("overdue_as_of"))
        )
    if "not_overdue_as_of" in wanted:
        query = query.where(
            or_(~may_be_late, ~_open_deadline_exists(_deadlines.c.due_on < bindparam("not_overdue_as_of")))
        )
    bounds = [
        bound
        for name, bound in (
            ("due_before", _deadlines.c.due_on <= bindparam("due_before")),
            ("due_after", _deadlines.c.due_on >= bindparam("due_after")),
        )
        if name in wanted
    ]
    if bounds:
        query = query.where(_open_deadline_exists(*bounds))
    if "text" in wanted:
        pattern = bindparam("text", type_=_items.c.title.type)
        query = query.where(
            or_(_items.c.title.ilike(pattern, escape="\\"), _items.c.plan_text.ilike(pattern, escape="\\"))
        )
    if "tag" in wanted:
        query = query.where(_items.c.id.in_(select(_tags.c.item_id).where(_tags.c.tag == bindparam("tag"))))
    column = _SORT_COLUMNS[shape.sort]
    if shape.after:
        after_id = bindparam("after_id", type_=_items.c.id.type)
        if column is _items.c.id:
            query = query.where(_items.c.id < after_id if shape.descending else _items.c.id > after_id)
        else:
            key = tuple_(column, _items.c.id)
            after = tuple_(bindparam("after_value", type_=column.type), after_id)
            query = query.where(key < after if shape.descending else key > after)
    order = [column.desc(), _items.c.id.desc()] if shape.descending else [column.asc(), _items.c.id.asc()]
    if column is _items.c.id:
        order = order[:1]
    query = query.order_by(*order).limit(bindparam("limit", type_=Integer()))
    if pg:
        query = query.add_columns(*_page_detail_columns())
    return query


def _page_parameters(filters: ItemFilters, after: tuple[Any, uuid.UUID] | None, limit: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        "statuses": list(filters.statuses) or None,
        "kind": filters.kind,
        "plan_id": filters.plan_id,
        "axis_id": filters.axis_id,
        "objective_id": filters.objective_id,
        "needs_review": filters.needs_review,
        "overdue_as_of": filters.overdue_as_of,
        "not_overdue_as_of": filters.not_overdue_as_of,
        "due_before": filters.due_before,
        "due_after": filters.due_after,
        "text": _like_pattern(filters.text) if filters.text else None,
        "tag": filters.tag,
    }
    for name, ids in (
        ("visible_partner_id", filters.visible_partner_ids),
        ("partner_id", filters.partner_ids),
    ):
        if ids is not None and len(ids) == 1:
            values[name] = next(iter(ids))
        elif ids is not None:
            values[name + "s"] = list(ids)
    parameters = {name: value for name, value in values.items() if value is not None}
    parameters["limit"] = limit
    if after is not None:
        parameters["after_value"], parameters["after_id"] = after
    return parameters


def page_statement(
    filters: ItemFilters,
    sort: str,
    descending: bool,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
    postgresql: bool,
) -> tuple[Select[Any], dict[str, Any]]:
    """The listing statement (kept per shape) and the values of its parameters."""
    parameters = _page_parameters(filters, after, limit)
    filter_names = frozenset(parameters) - {"limit", "after_value", "after_id"}
    shape = _Shape(
        postgresql=postgresql, sort=sort, descending=descending, after=after is not None, filters=filter_names
    )
    return _page_statement(shape), parameters


# Rows as named tuples: the service reads some twenty attributes of each, and a named tuple's attribute is
# several times quicker to read than a SQLAlchemy Row's. Their fields are the table's columns, which mypy
# cannot list (hence the ignores): code reading them holds them as Any.
_ItemRow = collections.namedtuple("_ItemRow", [column.key for column in _items.c])  # type: ignore[misc]  # fields listed at import (see above)
_PageRow = collections.namedtuple(  # type: ignore[misc]  # fields listed at import (see above)
    "_PageRow", [*_ItemRow._fields, "lead_partner_id", "associated_partner_ids", "tags", "next_due_on"]
)


@dataclass(frozen=True)
class ItemDetails:
    """What an item's API view needs beyond its own row."""

    parties: list[
        tuple[uuid.UUID, str]
    ]  # (partner id, "lead" | "associated"), lead first, then by partner id
    tags: list[str]
    next_due_on: date | None


async def list_page(
    session: AsyncSession,
    filters: ItemFilters,
    sort: str,
    descending: bool,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> tuple[Sequence[Any], dict[uuid.UUID, ItemDetails]]:
    """One page by keyset (rows strictly after the (sort value, id) of the previous page's last row), with
    each item's details. The rows are named tuples of the `items` columns, under the Item attributes' names."""
    postgresql = session.bind.dialect.name == "postgresql"
    statement, parameters = page_statement(filters, sort, descending, after, limit, postgresql)
    result = await session.execute(statement, parameters)
    rows: list[Any]
    if not postgresql:
        rows = [_ItemRow._make(row) for row in result]
        return rows, await details_of(session, [row.id for row in rows])
    rows, details = [], {}
    row: Any
    for row in map(_PageRow._make, result):
        rows.append(row)
        lead = row.lead_partner_id
        parties = [(partner_id, "associated") for partner_id in row.associated_partner_ids]
        details[row.id] = ItemDetails(
            parties=parties if lead is None else [(lead, "lead"), *parties],
            tags=row.tags,
            next_due_on=row.next_due_on,
        )
    return rows, details


async def details_of(session: AsyncSession, item_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ItemDetails]:
    """Partners, tags and next open deadline of the given items."""
    parties = await parties_of(session, item_ids)
    tags = await tags_of(session, item_ids)
    due = await next_open_due(session, item_ids)
    return {item_id: ItemDetails(parties[item_id], tags[item_id], due.get(item_id)) for item_id in item_ids}


async def get(session: AsyncSession, item_id: uuid.UUID) -> Item | None:
    return await session.get(Item, item_id)


async def lock(session: AsyncSession, item_id: uuid.UUID) -> None:
    """Hold the item's row until the transaction ends (PostgreSQL; SQLite runs one write transaction at a
    time anyway): the next transaction on the item that changes its row waits for this one to commit."""
    await session.execute(select(Item.id).where(Item.id == item_id).with_for_update())


async def relations_of(
    session: AsyncSession, item_ids: Sequence[uuid.UUID], partner_id: uuid.UUID
) -> dict[uuid.UUID, Relation]:
    """What the partner is to each item: its lead, a member of the group that leads it, associated with it
    (itself or through one of its groups), or nothing. Group membership is read here, not from a cached key."""
    relations = dict.fromkeys(item_ids, Relation.NONE)
    if not item_ids:
        return relations
    groups = select(GroupMembership.group_id).where(GroupMembership.member_id == partner_id)
    query = select(ItemPartner.item_id, ItemPartner.role, ItemPartner.partner_id == partner_id).where(
        ItemPartner.item_id.in_(list(item_ids)),
        or_(ItemPartner.partner_id == partner_id, ItemPartner.partner_id.in_(groups)),
    )
    for item_id, role, direct in (await session.execute(query)).all():
        found = Relation.ASSOCIATED if role != "lead" else Relation.LEAD if direct else Relation.LEAD_GROUP
        if _RELATION_RANK[found] > _RELATION_RANK[relations[item_id]]:
            relations[item_id] = found
    return relations


# When a partner is related to an item in several ways (its group leads, it is associated itself), the
# strongest relation counts.
_RELATION_RANK = {Relation.NONE: 0, Relation.ASSOCIATED: 1, Relation.LEAD_GROUP: 2, Relation.LEAD: 3}


async def parties_of(
    session: AsyncSession, item_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    parties: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {item_id: [] for item_id in item_ids}
    if item_ids:
        query = (
            select(ItemPartner.item_id, ItemPartner.partner_id, ItemPartner.role)
            .where(ItemPartner.item_id.in_(item_ids))
            .order_by(ItemPartner.partner_id)
        )
        for item_id, partner_id, role in (await session.execute(query)).all():
            parties[item_id].append((partner_id, role))
    return parties


async def tags_of(session: AsyncSession, item_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    tags: dict[uuid.UUID, list[str]] = {item_id: [] for item_id in item_ids}
    if item_ids:
        query = (
            select(ItemTag.item_id, ItemTag.tag).where(ItemTag.item_id.in_(item_ids)).order_by(ItemTag.tag)
        )
        for item_id, tag in (await session.execute(query)).all():
            tags[item_id].append(tag)
    return tags


async def next_open_due(session: AsyncSession, item_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, date]:
    if not item_ids:
        return {}
    query = (
        select(Deadline.item_id, func.min(Deadline.due_on))
        .where(Deadline.item_id.in_(item_ids), Deadline.met_on.is_(None))
        .group_by(Deadline.item_id)
    )
    return dict((await session.execute(query)).tuples().all())


async def replace_parties(
    session: AsyncSession, item_id: uuid.UUID, lead: uuid.UUID | None, associated: Sequence[uuid.UUID]
) -> None:
    await session.execute(delete(ItemPartner).where(ItemPartner.item_id == item_id))
    if lead is not None:
        session.add(ItemPartner(item_id=item_id, partner_id=lead, role="lead"))
    session.add_all(
        ItemPartner(item_id=item_id, partner_id=p, role="associated")
        for p in dict.fromkeys(associated)
        if p != lead
    )


async def replace_tags(session: AsyncSession, item_id: uuid.UUID, tags: Sequence[str]) -> None:
    await session.execute(delete(ItemTag).where(ItemTag.item_id == item_id))
    session.add_all(ItemTag(item_id=item_id, tag=tag) for tag in dict.fromkeys(tags))


async def next_position(session: AsyncSession, objective_id: uuid.UUID) -> int:
    query = select(func.coalesce(func.max(Item.position), 0)).where(Item.objective_id == objective_id)
    return int((await session.scalar(query)) or 0) + 1


async def unanswered(
    session: AsyncSession, as_of: date, only: Collection[uuid.UUID] | None = None
) -> list[Item]:
    """Requests still waiting for an answer whose response deadline has passed (among `only`, if given)."""
    query = (
        select(Item)
        .where(
            Item.status.in_([Status.SENT.value, Status.ACKNOWLEDGED.value]),
            _open_deadline(and_(Deadline.kind == "response", Deadline.due_on < as_of)),
        )
        .order_by(Item.id)
    )
    if only is not None:  # the deadline scanner: just the requests whose overdue reminder it is sending
        query = query.where(Item.id.in_(list(only)))
    return list((await session.scalars(query)).all())


async def get_objective(session: AsyncSession, objective_id: uuid.UUID) -> Objective | None:
    """The objective an item goes under (it gives the item its plan and axis)."""
    return await session.get(Objective, objective_id)
