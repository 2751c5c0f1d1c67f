"""What happens to a deadline that other packages react to (domain events: messagebus.py,
subscriptions.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.commitments.deadlines.models import Deadline


@dataclass(frozen=True)
class DeadlineDated:
    """A deadline was created or given a new date (a new version)."""

    deadline: Deadline


@dataclass(frozen=True)
class MilestoneMetChanged:
    """A milestone was marked reached, or reached no more."""

    item_id: uuid.UUID
    deadline_id: uuid.UUID
