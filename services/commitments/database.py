"""The commitments service's ORM base and its unit of work: one session and one transaction per request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from fastapi import Request
from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from shared.db import UtcDateTime, new_id

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OUTBOX_PENDING = "outbox_pending"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


def outbox_aware_sessionmaker(engine: AsyncEngine, on_outbox_commit: Callable[[], None]
                              ) -> async_sessionmaker[AsyncSession]:
    """A sessionmaker whose sessions call `on_outbox_commit` after each commit that wrote outbox rows,
    so the relay wakes at once instead of polling."""

    class OutboxAwareSession(Session):
        pass

    @event.listens_for(OutboxAwareSession, "after_commit")
    def _after_commit(session: Session) -> None:
        if session.info.pop(OUTBOX_PENDING, False):
            on_outbox_commit()

    @event.listens_for(OutboxAwareSession, "after_rollback")
    def _after_rollback(session: Session) -> None:
        session.info.pop(OUTBOX_PENDING, None)

    return async_sessionmaker(engine, expire_on_commit=False,
                              sync_session_class=OutboxAwareSession)


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response leaves (use with scope="function").

    Reads (GET, HEAD) on PostgreSQL run without BEGIN/COMMIT: under READ COMMITTED each statement takes its
    own snapshot inside a transaction too, so they lose nothing and save two round trips."""
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
