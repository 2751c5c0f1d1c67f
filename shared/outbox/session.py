"""Sessions that say when a commit wrote outbox rows, so that the relay wakes at once instead of polling."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

# Set in session.info by recorder.record_event; popped by the commit (or rollback) that follows.
OUTBOX_PENDING = "outbox_pending"


def outbox_aware_sessionmaker(
    engine: AsyncEngine, on_outbox_commit: Callable[[], None]
) -> async_sessionmaker[AsyncSession]:
    """A sessionmaker whose sessions call `on_outbox_commit` after each commit that wrote outbox rows,
    so the relay wakes at once instead of polling."""

    class OutboxAwareSession(Session):
        pass

    @event.listens_for(OutboxAwareSession, "after_commit")
    def _after_commit(session: Session) -> None:
        if session.info.pop(OUTBOX_PENDING, False):
            on_outbox_commit()

    @event.listens_for(OutboxAwareSession, "after_soft_rollback")
    def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
        # Not on a savepoint's rollback: outbox rows written before the savepoint are still to be committed.
        if not previous_transaction.nested:
            session.info.pop(OUTBOX_PENDING, None)

    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=OutboxAwareSession)
