"""What the statuses of the commitments stream mean for reporting (the events carry them as strings; the
lifecycle itself belongs to the commitments service: docs/api-contract.md)."""

from __future__ import annotations

from typing import Literal

WaitingOn = Literal["partner", "city", "none"]

ANSWERS = frozenset({"accepted", "partially_accepted", "declined"})
# The partner has answered: the response deadline is met.
ANSWERED = ANSWERS | {"in_progress", "delivered", "verified"}
# Finished, or never to be: nothing about the item can be late any more.
FINISHED = frozenset({"verified", "done", "abandoned", "declined"})
ALL_STATUSES = (
    "draft",
    "sent",
    "acknowledged",
    "accepted",
    "partially_accepted",
    "declined",
    "no_answer",
    "in_progress",
    "delivered",
    "verified",
    "planned",
    "done",
    "abandoned",
)

# Whose move it is, by kind and status. A request: the city must send it (draft), then the partner must answer
# and deliver, then the city must verify what was declared delivered. A commitment of the city: the city.
_REQUEST_WAITING_ON: dict[str, WaitingOn] = {
    "draft": "city",
    "sent": "partner",
    "acknowledged": "partner",
    "no_answer": "partner",
    "accepted": "partner",
    "partially_accepted": "partner",
    "in_progress": "partner",
    "delivered": "city",
}
_COMMITMENT_WAITING_ON: dict[str, WaitingOn] = {"planned": "city", "in_progress": "city"}


def waiting_on(kind: str, status: str) -> WaitingOn:
    """The party an item waits on in this status: "partner", "city", or "none" once it is finished."""
    table = _REQUEST_WAITING_ON if kind == "request" else _COMMITMENT_WAITING_ON
    return table.get(status, "none")
