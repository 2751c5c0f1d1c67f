"""Database plumbing: one async engine per service, SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, TypeDecorator, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

# A runtime import: FastAPI reads the annotation of request_session to inject the request.
from starlette.requests import Request

from shared.sqlite_files import make_sqlite_file_private

# Constraint names every service's metadata uses, so that Alembic batch migrations can find them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def async_database_url(url: str) -> str:
    """Turn a plain `postgresql://` or `sqlite://` URL into the async driver URL SQLAlchemy needs."""
    parsed = make_url(url)
    driver = {
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
    }
    if parsed.drivername in driver:
        parsed = parsed.set(drivername=driver[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str,
    pool_size: int = 20,
    ping_after_idle_seconds: float = 2.0,
    pool_timeout_seconds: float = 30.0,
    **kwargs: Any,
) -> AsyncEngine:
    """Create the service's engine; SQLite gets WAL, foreign keys and a busy timeout; on PostgreSQL a pooled
    connection is pinged before use when it sat idle `ping_after_idle_seconds` or more (0: always). A checkout
    that waits `pool_timeout_seconds` for a free connection raises sqlalchemy.exc.TimeoutError (an API turns
    it into 503, shared/admission.py)."""
    url = async_database_url(url)
    if make_url(url).database not in (
        None,
        "",
        ":memory:",
    ):  # an in-memory SQLite has one connection, no pool
        # A pool smaller than the concurrency opens and closes sessions all the time (PostgreSQL), and an API
        # process serves as many requests at once as its pool's steady connections (shared/admission.py).
        kwargs.setdefault("pool_size", pool_size)
        kwargs.setdefault("max_overflow", pool_size)
        kwargs.setdefault("pool_timeout", pool_timeout_seconds)
    if is_sqlite(url):
        make_sqlite_file_private(url)
        # Looked up at call time so that OpenTelemetry's wrapper (installed by setup_tracing) sees the engine.
        engine = sqlalchemy_asyncio.create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # Let SQLAlchemy's "begin" hook below open transactions instead of the driver's implicit BEGIN.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # IMMEDIATE takes the write lock up front: a read-then-write transaction can then wait on
            # busy_timeout instead of failing with SQLITE_BUSY when another writer got there first.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = sqlalchemy_asyncio.create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine, ping_after_idle_seconds)
    return engine


# pool_pre_ping pings the server at every checkout: with asyncpg, outside a transaction, that is three round
# trips (BEGIN, the ping, ROLLBACK) before each request's first statement. A connection that came back to the
# pool a moment ago is almost surely alive, so only one idle for longer is pinged (and replaced when the ping
# fails). The trade-off: if the server goes away within that moment, the request that finds out fails, and
# SQLAlchemy then invalidates the whole pool, so that the requests after it reconnect.
_RETURNED_AT = "returned_at"


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_RETURNED_AT, 0.0) < idle_seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another one.
            raise DisconnectionError("stale pooled connection") from exc


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response leaves (use with scope="function").

    Expects `app.state.sessionmaker` and `app.state.read_sessionmaker` (None, or the autocommit sessions of
    `read_sessionmaker`). Reads (GET, HEAD) on PostgreSQL run without BEGIN/COMMIT: under READ COMMITTED each
    statement takes its own snapshot inside a transaction too, so they lose nothing and save two round trips."""
    state = request.app.state
    if request.method in ("GET", "HEAD") and state.read_sessionmaker is not None:
        async with state.read_sessionmaker() as session:
            yield session
        return
    sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
    async with sessionmaker() as session, session.begin():
        yield session


def read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession] | None:
    """Sessions in autocommit for reads, on PostgreSQL only (SQLite keeps its transactions: its begin hook
    takes the write lock, and a read gains nothing there)."""
    if engine.dialect.name != "postgresql":
        return None
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_last_id_ms = 0
_id_counter = 0


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7 layout): sorting by id follows creation order, which keyset
    pagination and plan imports rely on."""
    global _last_id_ms, _id_counter
    now_ms = time.time_ns() // 1_000_000
    if now_ms <= _last_id_ms:
        _id_counter += 1
        now_ms = _last_id_ms
    else:
        _id_counter = 0
        _last_id_ms = now_ms
    counter = _id_counter & 0xFFF
    if _id_counter > 0xFFF:  # more than 4096 ids in one millisecond: borrow the next millisecond
        _last_id_ms += 1
        _id_counter = 0
        now_ms = _last_id_ms
        counter = 0
    value = (now_ms & 0xFFFFFFFFFFFF) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | secrets.randbits(62)
    return uuid.UUID(int=value)


def insert_ignoring_conflicts(session: AsyncSession, table: Any, *index_elements: str) -> Any:
    """`INSERT … ON CONFLICT (index_elements) DO NOTHING` in the session's dialect (PostgreSQL or SQLite): the
    idempotent insert behind every unique key that guards against doing a thing twice."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=list(index_elements))
