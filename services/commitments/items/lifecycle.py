"""The lifecycle of requests and city commitments: which transitions exist (who may make them: permissions.py)."""

from __future__ import annotations

from enum import StrEnum


class ItemKind(StrEnum):
    REQUEST = "request"
    COMMITMENT = "commitment"


class Status(StrEnum):
    # requests to partners
    DRAFT = "draft"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    PARTIALLY_ACCEPTED = "partially_accepted"
    DECLINED = "declined"
    NO_ANSWER = "no_answer"
    DELIVERED = "delivered"
    VERIFIED = "verified"
    # city commitments
    PLANNED = "planned"
    DONE = "done"
    # both
    IN_PROGRESS = "in_progress"
    ABANDONED = "abandoned"


LABELS_FR = {
    Status.DRAFT: "brouillon",
    Status.SENT: "envoyée",
    Status.ACKNOWLEDGED: "accusé de réception",
    Status.ACCEPTED: "acceptée",
    Status.PARTIALLY_ACCEPTED: "partiellement acceptée",
    Status.DECLINED: "refusée",
    Status.NO_ANSWER: "sans réponse",
    Status.IN_PROGRESS: "en cours",
    Status.DELIVERED: "réalisée (déclarée)",
    Status.VERIFIED: "vérifiée",
    Status.PLANNED: "prévu",
    Status.DONE: "réalisé",
    Status.ABANDONED: "abandonné",
}

_ANSWERS = (Status.ACCEPTED, Status.PARTIALLY_ACCEPTED, Status.DECLINED)

REQUEST_TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.DRAFT: (Status.SENT, Status.ABANDONED),
    Status.SENT: (Status.ACKNOWLEDGED, *_ANSWERS, Status.NO_ANSWER, Status.ABANDONED),
    Status.ACKNOWLEDGED: (*_ANSWERS, Status.NO_ANSWER, Status.ABANDONED),
    # A late answer is still an answer: silence is never taken for acceptance, but it can end.
    Status.NO_ANSWER: (Status.ACKNOWLEDGED, *_ANSWERS, Status.SENT, Status.ABANDONED),
    Status.ACCEPTED: (Status.IN_PROGRESS, Status.DELIVERED, Status.ABANDONED),
    Status.PARTIALLY_ACCEPTED: (Status.IN_PROGRESS, Status.DELIVERED, Status.ABANDONED),
    Status.DECLINED: (Status.SENT, Status.ABANDONED),
    Status.IN_PROGRESS: (Status.DELIVERED, Status.ABANDONED),
    # The city may refuse a declared delivery and send the item back to work.
    Status.DELIVERED: (Status.VERIFIED, Status.IN_PROGRESS),
    Status.VERIFIED: (),
    Status.ABANDONED: (),
}

COMMITMENT_TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.PLANNED: (Status.IN_PROGRESS, Status.DONE, Status.ABANDONED),
    Status.IN_PROGRESS: (Status.DONE, Status.ABANDONED),
    Status.DONE: (Status.IN_PROGRESS,),
    Status.ABANDONED: (),
}

INITIAL_STATUS = {ItemKind.REQUEST: Status.DRAFT, ItemKind.COMMITMENT: Status.PLANNED}

# States in which the partner has answered: the response deadline is met.
ANSWERED = frozenset({*_ANSWERS, Status.IN_PROGRESS, Status.DELIVERED, Status.VERIFIED})
# States in which the work is finished (or will never be): no deadline is open any more.
CLOSED = frozenset({Status.DELIVERED, Status.VERIFIED, Status.DONE, Status.ABANDONED, Status.DECLINED})
# States in which an item is never late: finished, or a request not sent yet (nobody was asked anything).
NEVER_LATE = CLOSED | {Status.DRAFT}


def deadline_running(deadline_kind: str, met_on: object, item_status: str) -> bool:
    """Whether a deadline of an item in this status still runs (the scanner reminds it): not met, the item
    neither a draft nor finished, and a response deadline not answered yet (an acknowledgement is not an
    answer)."""
    status = Status(item_status)
    if met_on is not None or status in NEVER_LATE:
        return False
    return not (deadline_kind == "response" and status in ANSWERED)


def transitions_for(kind: ItemKind) -> dict[Status, tuple[Status, ...]]:
    return REQUEST_TRANSITIONS if kind is ItemKind.REQUEST else COMMITMENT_TRANSITIONS


def allowed_targets(kind: ItemKind, current: Status) -> tuple[Status, ...]:
    """The statuses the lifecycle reaches from `current`, whoever asks (who may take each one: permissions.py)."""
    return transitions_for(kind).get(current, ())
