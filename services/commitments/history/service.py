"""The audit trail: every change to every object, who made it and when."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.history import repository
from services.commitments.history.models import AuditEntry
from shared.auth import Principal
from shared.clock import Clock


def _plain(value: Any) -> Any:
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value changed, as {field: [before, after]}."""
    return {
        key: [_plain(before.get(key)), _plain(after[key])] for key in after if before.get(key) != after[key]
    }


def record_change(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    *,
    entity_type: str,
    entity_id: uuid.UUID,
    action: str,
    changes: dict[str, Any],
    item_id: uuid.UUID | None = None,
) -> None:
    """Append one audit entry to the current transaction."""
    session.add(
        AuditEntry(
            entity_type=entity_type,
            entity_id=entity_id,
            item_id=item_id,
            action=action,
            actor_kind=actor.actor.kind,
            actor_id=actor.actor.id,
            at=clock.now(),
            changes={key: _plain(value) for key, value in changes.items()},
        )
    )


async def item_history(session: AsyncSession, item_id: uuid.UUID) -> Sequence[AuditEntry]:
    """Every audit entry about an item and its deadlines and journal, oldest first."""
    return await repository.list_for_item(session, item_id)


async def redact_entity(session: AsyncSession, entity_type: str, entity_id: uuid.UUID) -> None:
    """Blank the recorded values of an erased object (the fact that a change happened stays)."""
    for entry in await repository.list_for_entity(session, entity_type, entity_id):
        entry.changes = {key: ["[effacé]", "[effacé]"] for key in entry.changes}
