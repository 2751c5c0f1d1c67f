from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.deadlines.models import Deadline
from services.commitments.items.lifecycle import CLOSED, Status
from services.commitments.items.models import Item, ItemPartner, ItemTag

SORT_COLUMNS: dict[str, Any] = {"created": Item.id, "title": Item.title, "updated": Item.updated_at}


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


def _concerning(partner_ids: Iterable[uuid.UUID]) -> ColumnElement[bool]:
    return Item.id.in_(select(ItemPartner.item_id).where(ItemPartner.partner_id.in_(list(partner_ids))))


def _open_deadline(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(Deadline.item_id == Item.id, Deadline.met_on.is_(None), *conditions)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered_query(filters: ItemFilters) -> Select[tuple[Item]]:
    query = select(Item)
    if filters.visible_partner_ids is not None:
        query = query.where(_concerning(filters.visible_partner_ids))
    if filters.partner_ids is not None:
        query = query.where(_concerning(filters.partner_ids))
    if filters.statuses:
        query = query.where(Item.status.in_(list(filters.statuses)))
    for column, value in ((Item.kind, filters.kind), (Item.plan_id, filters.plan_id),
                          (Item.axis_id, filters.axis_id), (Item.objective_id, filters.objective_id),
                          (Item.needs_review, filters.needs_review)):
        if value is not None:
            query = query.where(column == value)
    open_item = Item.status.not_in([s.value for s in CLOSED])
    if filters.overdue_as_of is not None:
        query = query.where(open_item, _open_deadline(Deadline.due_on < filters.overdue_as_of))
    if filters.not_overdue_as_of is not None:
        query = query.where(or_(~open_item, ~_open_deadline(Deadline.due_on < filters.not_overdue_as_of)))
    if filters.due_before is not None or filters.due_after is not None:
        bounds = []
        if filters.due_before is not None:
            bounds.append(Deadline.due_on <= filters.due_before)
        if filters.due_after is not None:
            bounds.append(Deadline.due_on >= filters.due_after)
        query = query.where(_open_deadline(*bounds))
    if filters.text:
        pattern = _like_pattern(filters.text)
        query = query.where(or_(Item.title.ilike(pattern, escape="\\"), Item.plan_text.ilike(pattern, escape="\\")))
    if filters.tag is not None:
        query = query.where(Item.id.in_(select(ItemTag.item_id).where(ItemTag.tag == filters.tag)))
    return query


@dataclass(frozen=True)
class ItemDetails:
    """What an item's API view needs beyond its own row."""

    parties: list[tuple[uuid.UUID, str]]  # (partner id, "lead" | "associated"), by partner id
    tags: list[str]
    next_due_on: date | None


def _pg_detail_columns() -> list[Any]:
    # Correlated subqueries, so that on PostgreSQL a page and its details come back in one round trip.
    parties = (select(func.array_agg(aggregate_order_by(
        func.concat(ItemPartner.partner_id, ":", ItemPartner.role), ItemPartner.partner_id)))
        .where(ItemPartner.item_id == Item.id).scalar_subquery())
    tags = (select(func.array_agg(aggregate_order_by(ItemTag.tag, ItemTag.tag)))
            .where(ItemTag.item_id == Item.id).scalar_subquery())
    next_due = (select(func.min(Deadline.due_on)).where(Deadline.item_id == Item.id, Deadline.met_on.is_(None))
                .scalar_subquery())
    return [parties, tags, next_due]


_PG_DETAILS = _pg_detail_columns()


async def list_page(session: AsyncSession, filters: ItemFilters, sort: str, descending: bool,
                    after: tuple[Any, uuid.UUID] | None, limit: int
                    ) -> tuple[Sequence[Item], dict[uuid.UUID, ItemDetails]]:
    """One page by keyset (rows strictly after the (sort value, id) of the previous page's last row), with
    each item's details."""
    column = SORT_COLUMNS[sort]
    query = filtered_query(filters)
    if after is not None:
        if column is Item.id:
            query = query.where(Item.id < after[1] if descending else Item.id > after[1])
        else:
            key = tuple_(column, Item.id)
            query = query.where(key < tuple_(*after) if descending else key > tuple_(*after))
    order = [column.desc(), Item.id.desc()] if descending else [column.asc(), Item.id.asc()]
    if column is Item.id:
        order = order[:1]
    query = query.order_by(*order).limit(limit)
    if session.bind.dialect.name != "postgresql":
        items = (await session.scalars(query)).all()
        return items, await details_of(session, [item.id for item in items])
    items, details = [], {}
    for item, parties, tags, next_due in (await session.execute(query.add_columns(*_PG_DETAILS))).all():
        items.append(item)
        details[item.id] = ItemDetails(
            parties=[(uuid.UUID(p[:36]), p[37:]) for p in parties or ()], tags=list(tags or ()),
            next_due_on=next_due)
    return items, details


async def details_of(session: AsyncSession, item_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ItemDetails]:
    """Partners, tags and next open deadline of the given items."""
    parties = await parties_of(session, item_ids)
    tags = await tags_of(session, item_ids)
    due = await next_open_due(session, item_ids)
    return {item_id: ItemDetails(parties[item_id], tags[item_id], due.get(item_id)) for item_id in item_ids}


async def get(session: AsyncSession, item_id: uuid.UUID) -> Item | None:
    return await session.get(Item, item_id)


async def is_concerning(session: AsyncSession, item_id: uuid.UUID, partner_ids: Iterable[uuid.UUID]) -> bool:
    query = select(ItemPartner.item_id).where(ItemPartner.item_id == item_id,
                                              ItemPartner.partner_id.in_(list(partner_ids))).limit(1)
    return (await session.scalars(query)).first() is not None


async def parties_of(session: AsyncSession, item_ids: Sequence[uuid.UUID]
                     ) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    parties: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {item_id: [] for item_id in item_ids}
    if item_ids:
        query = (select(ItemPartner.item_id, ItemPartner.partner_id, ItemPartner.role)
                 .where(ItemPartner.item_id.in_(item_ids)).order_by(ItemPartner.partner_id))
        for item_id, partner_id, role in (await session.execute(query)).all():
            parties[item_id].append((partner_id, role))
    return parties


async def tags_of(session: AsyncSession, item_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    tags: dict[uuid.UUID, list[str]] = {item_id: [] for item_id in item_ids}
    if item_ids:
        query = select(ItemTag.item_id, ItemTag.tag).where(ItemTag.item_id.in_(item_ids)).order_by(ItemTag.tag)
        for item_id, tag in (await session.execute(query)).all():
            tags[item_id].append(tag)
    return tags


async def next_open_due(session: AsyncSession, item_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, date]:
    if not item_ids:
        return {}
    query = (select(Deadline.item_id, func.min(Deadline.due_on))
             .where(Deadline.item_id.in_(item_ids), Deadline.met_on.is_(None)).group_by(Deadline.item_id))
    return {item_id: due_on for item_id, due_on in (await session.execute(query)).all()}


async def replace_parties(session: AsyncSession, item_id: uuid.UUID, lead: uuid.UUID | None,
                          associated: Sequence[uuid.UUID]) -> None:
    await session.execute(delete(ItemPartner).where(ItemPartner.item_id == item_id))
    if lead is not None:
        session.add(ItemPartner(item_id=item_id, partner_id=lead, role="lead"))
    session.add_all(ItemPartner(item_id=item_id, partner_id=p, role="associated")
                    for p in dict.fromkeys(associated) if p != lead)


async def replace_tags(session: AsyncSession, item_id: uuid.UUID, tags: Sequence[str]) -> None:
    await session.execute(delete(ItemTag).where(ItemTag.item_id == item_id))
    session.add_all(ItemTag(item_id=item_id, tag=tag) for tag in dict.fromkeys(tags))


async def next_position(session: AsyncSession, objective_id: uuid.UUID) -> int:
    query = select(func.coalesce(func.max(Item.position), 0)).where(Item.objective_id == objective_id)
    return int((await session.scalar(query)) or 0) + 1


def unanswered_query(as_of: date) -> Select[tuple[Item]]:
    """Requests still waiting for an answer whose response deadline has passed."""
    return select(Item).where(
        Item.status.in_([Status.SENT.value, Status.ACKNOWLEDGED.value]),
        _open_deadline(and_(Deadline.kind == "response", Deadline.due_on < as_of)),
    ).order_by(Item.id)
