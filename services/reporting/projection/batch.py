"""One batch of events being applied: the rows they touch, read up front in a few statements, changed in
memory by the handlers (as plain dicts, column name → value), and written at the end in one statement per
table (an upsert of every row the batch touched; the partners of an item or the members of a group written
anew). No handler queries the database: a batch of hundreds of events costs a handful of round trips, not
several per event, and no ORM bookkeeping per row."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Table, delete, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

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
    ProcessedEvent,
    TimelineEntry,
)
from shared.events import EventEnvelope

Row = dict[str, Any]

_KEYS = ("item_id", "deadline_id", "delivery_id", "partner_id", "plan_id", "axis_id", "objective_id")
_STRUCTURE = ("plan", "axis", "objective")


def _ids(envelopes: Iterable[EventEnvelope]) -> dict[str, set[uuid.UUID]]:
    """The ids the events name, by key of their data (partner, plan, axis and objective ids only from the
    events about those: elsewhere they name a row the batch does not change)."""
    found: dict[str, set[str]] = {key: set() for key in _KEYS}
    for envelope in envelopes:
        data, kind = envelope.data, envelope.type.partition(".")[0]
        for key in _KEYS:
            value = data.get(key)
            if (
                value is None
                or (key == "partner_id" and kind != "partner")
                or (key in ("plan_id", "axis_id", "objective_id") and kind not in _STRUCTURE)
            ):
                continue
            found[key].add(value)
    return {key: {uuid.UUID(str(value)) for value in values} for key, values in found.items()}


def _table(model: type[Any]) -> Table:
    """The model's table, as a Table (what the ORM declares is any FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


@functools.cache
def upsert(dialect_name: str, table: Table) -> Any:
    """`INSERT … ON CONFLICT (primary key) DO UPDATE SET every other column`, built once per table: a statement
    built once keeps its compiled form in SQLAlchemy's cache (building it costs more than running it)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    keys = [column.name for column in table.primary_key]
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={
            column.name: statement.excluded[column.name]
            for column in table.columns
            if column.name not in keys
        },
    )


class Batch:
    """The rows of one batch, by id; what handlers add or change here is written by `write()`."""

    def __init__(self, session: AsyncSession, stream: str) -> None:
        self.session = session
        self.stream = stream
        self.seq = 0  # the stream sequence of the event being applied
        # Rows by table and primary key; `touched` holds the keys to write back.
        self.rows: dict[Table, dict[Any, Row]] = {}
        self.touched: dict[Table, set[Any]] = {}
        self.deadlines_by_item: dict[uuid.UUID, list[Row]] = {}
        self.parties: dict[uuid.UUID, dict[uuid.UUID, str]] = {}  # item → partner → relation
        self.members: dict[uuid.UUID, set[uuid.UUID]] = {}  # group → members
        self.parties_changed: set[uuid.UUID] = set()
        self.members_changed: set[uuid.UUID] = set()
        self.timeline: list[Row] = []
        self.processed: list[Row] = []

    async def _read(self, table: Table, *where: Any) -> list[Row]:
        return [dict(row._mapping) for row in await self.session.execute(select(table).where(*where))]

    async def load(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Read every row the batch's events may touch (a few statements)."""
        ids = _ids(envelopes)
        items, deadlines, deliveries = _table(Item), _table(Deadline), _table(Delivery)
        item_ids, deadline_ids = ids["item_id"], ids["deadline_id"]
        if item_ids or deadline_ids:
            for row in await self._read(items, items.c.id.in_(item_ids)):
                self._keep(items, row["id"], row)
            for row in await self._read(
                deadlines, or_(deadlines.c.item_id.in_(item_ids), deadlines.c.id.in_(deadline_ids))
            ):
                self._keep_deadline(row)
            parties = _table(ItemPartner)
            for row in await self._read(parties, parties.c.item_id.in_(item_ids)):
                self.parties.setdefault(row["item_id"], {})[row["partner_id"]] = row["relation"]
        if ids["delivery_id"]:
            for row in await self._read(deliveries, deliveries.c.id.in_(ids["delivery_id"])):
                self._keep(deliveries, row["id"], row)
        if ids["partner_id"]:
            partners, members = _table(Partner), _table(PartnerMember)
            for row in await self._read(partners, partners.c.id.in_(ids["partner_id"])):
                self._keep(partners, row["id"], row)
            for row in await self._read(members, members.c.group_id.in_(ids["partner_id"])):
                self.members.setdefault(row["group_id"], set()).add(row["member_id"])
        for model, key in ((Plan, "plan_id"), (Axis, "axis_id"), (Objective, "objective_id")):
            if ids[key]:
                table = _table(model)
                for row in await self._read(table, table.c.id.in_(ids[key])):
                    self._keep(table, row["id"], row)

    def _keep(self, table: Table, key: Any, row: Row) -> None:
        self.rows.setdefault(table, {})[key] = row

    def _keep_deadline(self, row: Row) -> None:
        self._keep(_table(Deadline), row["id"], row)
        self.deadlines_by_item.setdefault(row["item_id"], []).append(row)

    def get(self, model: type[Any], key: Any) -> Row | None:
        """The row of this table with this primary key, if it exists; the caller may change it (`touch`)."""
        row = self.rows.get(_table(model), {}).get(key)
        if row is not None:
            self.touched.setdefault(_table(model), set()).add(key)
        return row

    def add(self, model: type[Any], row: Row) -> Row:
        """A new row, every column given."""
        table = _table(model)
        key = row["id"]
        if table is _table(Deadline):
            self._keep_deadline(row)
        else:
            self._keep(table, key, row)
        self.touched.setdefault(table, set()).add(key)
        return row

    def deadlines_of(self, item_id: uuid.UUID, *kinds: str) -> list[Row]:
        """The item's deadlines of these kinds, not removed (to change them)."""
        found = [
            d for d in self.deadlines_by_item.get(item_id, ()) if d["kind"] in kinds and not d["removed"]
        ]
        self.touched.setdefault(_table(Deadline), set()).update(d["id"] for d in found)
        return found

    def set_parties(
        self, item_id: uuid.UUID, lead: uuid.UUID | None, associated: Iterable[uuid.UUID]
    ) -> None:
        """The item's partners become exactly its lead and these associated ones."""
        wanted = dict.fromkeys(associated, "associated")
        if lead is not None:
            wanted[lead] = "lead"
        self.parties[item_id] = wanted
        self.parties_changed.add(item_id)

    def set_members(self, group_id: uuid.UUID, member_ids: Iterable[uuid.UUID]) -> None:
        """The group's members become exactly these."""
        self.members[group_id] = set(member_ids)
        self.members_changed.add(group_id)

    def add_timeline_entry(
        self, envelope: EventEnvelope, item_id: uuid.UUID, on: date | None, details: dict[str, Any]
    ) -> None:
        """The event as a line of its item's history."""
        self.timeline.append(
            {
                "event_id": envelope.id,
                "item_id": item_id,
                "occurred_at": envelope.occurred_at,
                "stream": self.stream,
                "stream_seq": self.seq,
                "on": on,
                "type": envelope.type,
                "details": details,
            }
        )

    def mark_processed(self, envelope: EventEnvelope) -> None:
        self.processed.append({"event_id": envelope.id, "stream": self.stream, "stream_seq": self.seq})

    def _upsert(self, table: Table) -> Any:
        return upsert(self.session.bind.dialect.name, table)

    async def write(self) -> None:
        """Write what the batch added and changed (the caller commits)."""
        session = self.session
        for table, keys in self.touched.items():
            if keys:
                rows = self.rows[table]
                await session.execute(self._upsert(table), [rows[key] for key in keys])
        if self.parties_changed:
            parties = _table(ItemPartner)
            await session.execute(delete(parties).where(parties.c.item_id.in_(self.parties_changed)))
            party_rows = [
                {"item_id": item, "partner_id": partner, "relation": relation}
                for item in self.parties_changed
                for partner, relation in self.parties[item].items()
            ]
            if party_rows:
                await session.execute(insert(parties), party_rows)
        if self.members_changed:
            members = _table(PartnerMember)
            await session.execute(delete(members).where(members.c.group_id.in_(self.members_changed)))
            member_rows = [
                {"group_id": group, "member_id": member}
                for group in self.members_changed
                for member in self.members[group]
            ]
            if member_rows:
                await session.execute(insert(members), member_rows)
        if self.timeline:
            await session.execute(insert(_table(TimelineEntry)), self.timeline)
        if self.processed:
            await session.execute(insert(_table(ProcessedEvent)), self.processed)
