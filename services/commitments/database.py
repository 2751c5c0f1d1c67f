"""The commitments service's ORM base and its unit of work: one session and one transaction per request."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from shared.db import NAMING_CONVENTION, UtcDateTime, new_id, read_sessionmaker, request_session

__all__ = ["Base", "IdMixin", "outbox_aware_sessionmaker", "read_sessionmaker", "request_session"]

OUTBOX_PENDING = "outbox_pending"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime}


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
