"""What happens to an item that other packages react to (domain events: messagebus.py, subscriptions.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from services.commitments.items.models import Item
from shared.auth import Principal


@dataclass(frozen=True)
class StatusChanged:
    """An item moved along its lifecycle; `comment` is what the caller wrote with the move, if anything."""

    item: Item
    actor: Principal
    previous_status: str
    on: date
    comment: str | None = None


@dataclass(frozen=True)
class LeadChanged:
    """The item names another lead partner (another partner's rules, another partner reminded)."""

    item_id: uuid.UUID


@dataclass(frozen=True)
class PartnerResponded:
    """The partner answered, acknowledged, reported progress or proposed a date (escalation starts again)."""

    item_id: uuid.UUID
