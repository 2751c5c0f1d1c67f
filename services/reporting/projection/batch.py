"""One batch of events being applied: the rows they touch, read up front in a few statements, changed in
memory by the handlers (as plain dicts, column name → value), and written at the end in one statement per
table (an upsert of every row the batch touched; the partners of an item or the members of a group written
anew). No handler queries the database: a batch of hundreds of events costs a handful of round trips, not
several per event, and no ORM bookkeeping per row.

On PostgreSQL each of these statements sends its rows as one array per column (`unnest`, below); SQLite takes
them as an executemany."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Table, any_, bindparam, delete, exists, func, insert, literal, or_, select, update
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
    """`INSERT … ON CONFLICT (primary key) DO UPDATE SET every other column` (SQLite: an executemany of the
    rows)."""
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


# PostgreSQL: many rows in one statement, one array parameter per column (`columns_of`), read
# back as rows by `unnest`: one execution of a statement prepared once, where an executemany is one execution
# per row. Each statement below is plain Core (INSERT … SELECT, UPDATE … FROM), built once per table, so that
# SQLAlchemy compiles it once: the dialects' INSERT … ON CONFLICT has no cache key and is compiled again at
# every execution (several milliseconds for a table of twenty columns), which is why an upsert is an UPDATE of
# the rows the batch read plus an INSERT of those it made.


@functools.cache
def _given(table: Table) -> Any:
    """`unnest(:id, :name, …) AS given(id, name, …)`: the rows of the parameters, as a table."""
    names = [column.name for column in table.columns]
    arrays = (bindparam(_array(column.name), type_=postgresql.ARRAY(column.type)) for column in table.columns)
    return func.unnest(*arrays).table_valued(*names).render_derived(name="given")


@functools.cache
def insert_given(table: Table) -> Any:
    """`INSERT INTO table SELECT * FROM unnest(…)` (PostgreSQL)."""
    given = _given(table)
    return insert(table).from_select([column.name for column in table.columns], select(*given.c))


@functools.cache
def update_given(table: Table) -> Any:
    """`UPDATE table SET every other column FROM unnest(…) WHERE the primary key matches` (PostgreSQL)."""
    given = _given(table)
    keys = {column.name for column in table.primary_key}
    return (
        update(table)
        .values({column.name: given.c[column.name] for column in table.columns if column.name not in keys})
        .where(*(table.c[key] == given.c[key] for key in keys))
    )


@functools.cache
def record_given() -> Any:
    """`INSERT INTO processed_events SELECT * FROM unnest(…)` of the events not there yet, `RETURNING` their ids
    (PostgreSQL)."""
    table, given = _table(ProcessedEvent), _given(_table(ProcessedEvent))
    new = select(*given.c).where(~exists().where(table.c.event_id == given.c.event_id))
    return (
        insert(table).from_select([column.name for column in table.columns], new).returning(table.c.event_id)
    )


def _array(name: str) -> str:
    """The parameter of a column's values (not the column's name: SQLAlchemy keeps those for VALUES and SET)."""
    return f"all_{name}"


def columns_of(table: Table, rows: Sequence[Row]) -> dict[str, list[Any]]:
    """The parameters of the statements on `unnest`: the list of each column's values."""
    return {_array(column.name): [row[column.name] for row in rows] for column in table.columns}


def _postgresql(session: AsyncSession) -> bool:
    return bool(session.bind.dialect.name == "postgresql")


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[Row]) -> None:
    """Insert new rows (dicts of every column) in one statement."""
    if _postgresql(session):
        await session.execute(insert_given(table), columns_of(table, rows))
    else:
        await session.execute(insert(table), rows)


async def record_processed(
    session: AsyncSession, stream: str, events: Sequence[tuple[int, uuid.UUID]]
) -> set[uuid.UUID]:
    """Record these events (stream sequence, id; each id once) as applied: the ids that were not recorded yet,
    the events to apply (the others are in the tables already)."""
    if not events:
        return set()
    table = _table(ProcessedEvent)
    rows: list[Row] = [
        {"event_id": event_id, "stream": stream, "stream_seq": seq} for seq, event_id in events
    ]
    if _postgresql(session):
        return set((await session.execute(record_given(), columns_of(table, rows))).scalars())
    ids = [row["event_id"] for row in rows]
    seen = set(await session.scalars(select(table.c.event_id).where(table.c.event_id.in_(ids))))
    new = [row for row in rows if row["event_id"] not in seen]
    if new:
        await session.execute(insert(table), new)
    return {row["event_id"] for row in new}


class Batch:
    """The rows of one batch, by id; what handlers add or change here is written by `write()`."""

    def __init__(self, session: AsyncSession, stream: str) -> None:
        self.session = session
        self.stream = stream
        self.seq = 0  # the stream sequence of the event being applied
        # Rows by table and primary key; `touched` holds the keys to write back.
        self.rows: dict[Table, dict[Any, Row]] = {}
        self.touched: dict[Table, set[Any]] = {}
        self.stored: dict[
            Table, set[Any]
        ] = {}  # the keys of the rows read from the tables (the others are new)
        self.deadlines_by_item: dict[uuid.UUID, list[Row]] = {}
        self.parties: dict[uuid.UUID, dict[uuid.UUID, str]] = {}  # item → partner → relation
        self.members: dict[uuid.UUID, set[uuid.UUID]] = {}  # group → members
        self.parties_changed: set[uuid.UUID] = set()
        self.members_changed: set[uuid.UUID] = set()
        self.timeline: list[Row] = []

    async def _read(self, table: Table, *where: Any) -> list[Row]:
        return [dict(row._mapping) for row in await self.session.execute(select(table).where(*where))]

    async def load(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Read every row the batch's events may touch (a few statements)."""
        ids = _ids(envelopes)
        items, deadlines, deliveries = _table(Item), _table(Deadline), _table(Delivery)
        item_ids, deadline_ids = ids["item_id"], ids["deadline_id"]
        if item_ids or deadline_ids:
            for row in await self._read(items, self._among(items.c.id, item_ids)):
                self._stored(items, row["id"], row)
            for row in await self._read(
                deadlines,
                or_(self._among(deadlines.c.item_id, item_ids), self._among(deadlines.c.id, deadline_ids)),
            ):
                self._keep_deadline(row)
                self.stored.setdefault(deadlines, set()).add(row["id"])
            parties = _table(ItemPartner)
            for row in await self._read(parties, self._among(parties.c.item_id, item_ids)):
                self.parties.setdefault(row["item_id"], {})[row["partner_id"]] = row["relation"]
        if ids["delivery_id"]:
            for row in await self._read(deliveries, self._among(deliveries.c.id, ids["delivery_id"])):
                self._stored(deliveries, row["id"], row)
        if ids["partner_id"]:
            partners, members = _table(Partner), _table(PartnerMember)
            for row in await self._read(partners, self._among(partners.c.id, ids["partner_id"])):
                self._stored(partners, row["id"], row)
            for row in await self._read(members, self._among(members.c.group_id, ids["partner_id"])):
                self.members.setdefault(row["group_id"], set()).add(row["member_id"])
        for model, key in ((Plan, "plan_id"), (Axis, "axis_id"), (Objective, "objective_id")):
            if ids[key]:
                table = _table(model)
                for row in await self._read(table, self._among(table.c.id, ids[key])):
                    self._stored(table, row["id"], row)

    def _among(self, column: Any, ids: Collection[Any]) -> Any:
        """`column IN ids`; on PostgreSQL `column = ANY(:ids)`, one array parameter: an IN list is an expanding
        parameter, rendered again at every execution, and a new statement to plan at each new length."""
        if _postgresql(self.session):
            return column == any_(literal(list(ids), postgresql.ARRAY(column.type)))
        return column.in_(ids)

    def _keep(self, table: Table, key: Any, row: Row) -> None:
        self.rows.setdefault(table, {})[key] = row

    def _stored(self, table: Table, key: Any, row: Row) -> None:
        """A row read from the tables."""
        self._keep(table, key, row)
        self.stored.setdefault(table, set()).add(key)

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

    async def write(self) -> None:
        """Write what the batch added and changed (the caller commits)."""
        session = self.session
        for table, keys in self.touched.items():
            if keys:
                await self._write_rows(table, keys)
        if self.parties_changed:
            parties = _table(ItemPartner)
            await session.execute(delete(parties).where(parties.c.item_id.in_(self.parties_changed)))
            party_rows = [
                {"item_id": item, "partner_id": partner, "relation": relation}
                for item in self.parties_changed
                for partner, relation in self.parties[item].items()
            ]
            if party_rows:
                await insert_rows(session, parties, party_rows)
        if self.members_changed:
            members = _table(PartnerMember)
            await session.execute(delete(members).where(members.c.group_id.in_(self.members_changed)))
            member_rows = [
                {"group_id": group, "member_id": member}
                for group in self.members_changed
                for member in self.members[group]
            ]
            if member_rows:
                await insert_rows(session, members, member_rows)
        if self.timeline:
            await insert_rows(session, _table(TimelineEntry), self.timeline)

    async def _write_rows(self, table: Table, keys: set[Any]) -> None:
        """Write these rows of the table: an upsert of each (PostgreSQL: an update of those read from the
        tables, an insert of the new ones)."""
        rows = self.rows[table]
        if not _postgresql(self.session):
            await self.session.execute(upsert("sqlite", table), [rows[key] for key in keys])
            return
        stored = self.stored.get(table, set())
        changed = [rows[key] for key in keys if key in stored]
        new = [rows[key] for key in keys if key not in stored]
        if changed:
            await self.session.execute(update_given(table), columns_of(table, changed))
        if new:
            await self.session.execute(insert_given(table), columns_of(table, new))
