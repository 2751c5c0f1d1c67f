"""Who may do what to an item: the one permission matrix (docs/permissions.md), and the one place that applies it.

Every path that reads or changes an item, its deadlines, proposals or journal asks here. A caller is a role
(admin, city, reader, service — or partner, which a service key acting for a contact also becomes); a partner
also has a relation to the item (lead, member of a lead group, associated, none), computed by
`items.repository.relations_of`. The answer is allowed, 404 (a partner with no relation: the item does not
exist for it), or 403 (an action the caller may not take on an item it may see). A lifecycle transition that
does not exist from the current status is a 409 naming the transitions the caller may take.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from services.commitments.items.lifecycle import ItemKind, Status, transitions_for
from shared.auth import Principal, Role
from shared.problems import Forbidden, ForbiddenTransition, NotFound

if TYPE_CHECKING:
    from services.commitments.items.models import Item


class Relation(StrEnum):
    """What a partner is to an item (only partners have one; staff roles act whatever the item's parties)."""

    LEAD = "lead"  # the partner asked, by name
    LEAD_GROUP = "lead_group"  # a member of the group asked
    ASSOCIATED = "associated"  # associated with the item, directly or through one of its groups
    NONE = "none"


class Action(StrEnum):
    READ = "read"  # the item, its deadlines, proposals, journal, history and reminder rules
    READ_RECIPIENTS = "read_recipients"  # who a reminder goes to, with names and addresses
    CREATE = "create"
    EDIT = "edit"  # the item's fields and its reminder rules
    EDIT_DEADLINES = "edit_deadlines"  # set, move, mark a milestone met, decide a proposed date
    ACKNOWLEDGE = "acknowledge"
    ANSWER = "answer"  # accept, partially accept, decline; a journal entry of kind "response"
    PROPOSE_DATE = "propose_date"
    ADD_PROGRESS = "add_progress"  # a progress entry without %, or an accepted request moved to « en cours »
    SET_PROGRESS = "set_progress"  # a progress entry with its %
    DECLARE_DONE = "declare_done"  # delivered
    ADD_NOTE = "add_note"
    DESIGNATE_CONTACT = "designate_contact"  # « pas pour moi »: the partner's contact for this item
    VERIFY = "verify"
    SEND = "send"  # a draft sent, or sent again after a refusal or silence
    RECORD_NO_ANSWER = "record_no_answer"
    REOPEN = "reopen"  # a declared delivery sent back to work
    ABANDON = "abandon"
    TRANSITION_COMMITMENT = "transition_commitment"  # any status change of a city commitment


# ------------------------------------------------------------------------------------------------ the matrix

_STAFF = frozenset(Action)
_READ_ONLY = frozenset({Action.READ})

ROLE_RIGHTS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: _STAFF,
    Role.CITY: _STAFF,
    Role.READER: _READ_ONLY,
    # The notifications service: reads, and asks who to write to. Acting for a contact it is a partner.
    Role.SERVICE: frozenset({Action.READ, Action.READ_RECIPIENTS}),
}

# What a partner may do on a request to it (directly or through its group) ...
_LEAD_OF_REQUEST = frozenset(
    {
        Action.READ,
        Action.ACKNOWLEDGE,
        Action.ANSWER,
        Action.PROPOSE_DATE,
        Action.ADD_PROGRESS,
        Action.SET_PROGRESS,
        Action.DECLARE_DONE,
        Action.ADD_NOTE,
        Action.DESIGNATE_CONTACT,
    }
)
# ... and where it is only associated, or on a commitment of the city itself, whatever its relation: it follows
# and comments, the status and progress are not its to change.
_FOLLOWER = frozenset({Action.READ, Action.ADD_NOTE, Action.DESIGNATE_CONTACT})

PARTNER_RIGHTS: dict[tuple[ItemKind, Relation], frozenset[Action]] = {
    (ItemKind.REQUEST, Relation.LEAD): _LEAD_OF_REQUEST,
    (ItemKind.REQUEST, Relation.LEAD_GROUP): _LEAD_OF_REQUEST,
    (ItemKind.REQUEST, Relation.ASSOCIATED): _FOLLOWER,
    (ItemKind.COMMITMENT, Relation.LEAD): _FOLLOWER,
    (ItemKind.COMMITMENT, Relation.LEAD_GROUP): _FOLLOWER,
    (ItemKind.COMMITMENT, Relation.ASSOCIATED): _FOLLOWER,
}

# The action a request's transition stands for, by target status (a commitment's are all TRANSITION_COMMITMENT).
_REQUEST_TRANSITION_ACTIONS: dict[Status, Action] = {
    Status.SENT: Action.SEND,
    Status.ACKNOWLEDGED: Action.ACKNOWLEDGE,
    Status.ACCEPTED: Action.ANSWER,
    Status.PARTIALLY_ACCEPTED: Action.ANSWER,
    Status.DECLINED: Action.ANSWER,
    Status.NO_ANSWER: Action.RECORD_NO_ANSWER,
    Status.IN_PROGRESS: Action.ADD_PROGRESS,
    Status.DELIVERED: Action.DECLARE_DONE,
    Status.VERIFIED: Action.VERIFY,
    Status.ABANDONED: Action.ABANDON,
}


def transition_action(kind: ItemKind, current: Status, target: Status) -> Action:
    """The action a transition is, for the matrix."""
    if kind is ItemKind.COMMITMENT:
        return Action.TRANSITION_COMMITMENT
    if target is Status.IN_PROGRESS and current is Status.DELIVERED:
        return Action.REOPEN
    return _REQUEST_TRANSITION_ACTIONS[target]


def journal_action(kind: str, progress_percent: int | None) -> Action:
    """The action a journal entry is, by its kind and whether it sets a percentage."""
    if progress_percent is not None:
        return Action.SET_PROGRESS
    return {"response": Action.ANSWER, "progress": Action.ADD_PROGRESS}.get(kind, Action.ADD_NOTE)


# ------------------------------------------------------------------------------------------------ the answers


def may(
    principal: Principal, action: Action, kind: ItemKind | None = None, relation: Relation = Relation.NONE
) -> bool:
    """Whether the caller may take the action; `kind` and `relation` describe the item (None: no item yet)."""
    if principal.role is not Role.PARTNER:
        return action in ROLE_RIGHTS[principal.role]
    if kind is None:
        return False  # a partner creates nothing
    return action in PARTNER_RIGHTS.get((kind, relation), frozenset())


def require(
    principal: Principal, action: Action, kind: ItemKind | None = None, relation: Relation = Relation.NONE
) -> None:
    """Allowed, or the problem to answer: 404 for an item the caller may not see, 403 for an action it may not
    take on what it sees."""
    if principal.role is Role.PARTNER and kind is not None and relation is Relation.NONE:
        raise NotFound("Élément introuvable.")
    if not may(principal, action, kind, relation):
        raise Forbidden(_refusal(principal, action, kind, relation), action=action.value)


def _refusal(principal: Principal, action: Action, kind: ItemKind | None, relation: Relation) -> str:
    what = _ACTIONS_FR[action]
    if principal.role is not Role.PARTNER:
        return f"Action non autorisée pour le rôle « {principal.role.value} » : {what}."
    if kind is None:
        return f"Action réservée aux services de la ville : {what}."
    if kind is ItemKind.COMMITMENT:
        return (
            f"Un partenaire ne modifie pas un engagement de la ville ({what}) ; il peut y ajouter une note."
        )
    return (
        (
            f"Seul le partenaire sollicité peut {what} ; un partenaire associé peut consulter la demande et y "
            "ajouter une note."
        )
        if relation is Relation.ASSOCIATED
        else f"Action réservée à la ville : {what}."
    )


_ACTIONS_FR = {
    Action.READ: "consulter l'élément",
    Action.READ_RECIPIENTS: "consulter les destinataires des rappels",
    Action.CREATE: "créer un élément",
    Action.EDIT: "modifier l'élément",
    Action.EDIT_DEADLINES: "fixer ou modifier les échéances",
    Action.ACKNOWLEDGE: "accuser réception",
    Action.ANSWER: "répondre à la demande",
    Action.PROPOSE_DATE: "proposer une nouvelle date",
    Action.ADD_PROGRESS: "rendre compte de l'avancement",
    Action.SET_PROGRESS: "fixer le pourcentage d'avancement",
    Action.DECLARE_DONE: "déclarer la demande réalisée",
    Action.ADD_NOTE: "ajouter une note",
    Action.DESIGNATE_CONTACT: "désigner un contact pour l'élément",
    Action.VERIFY: "vérifier une réalisation",
    Action.SEND: "envoyer la demande",
    Action.RECORD_NO_ANSWER: "constater l'absence de réponse",
    Action.REOPEN: "renvoyer une réalisation en cours",
    Action.ABANDON: "abandonner l'élément",
    Action.TRANSITION_COMMITMENT: "changer l'état d'un engagement de la ville",
}


@dataclass(frozen=True)
class ItemAccess:
    """An item the caller may see, with what the caller is to it: every action on it is asked here."""

    item: Item
    principal: Principal
    relation: Relation

    @property
    def kind(self) -> ItemKind:
        return ItemKind(self.item.kind)

    def may(self, action: Action) -> bool:
        return may(self.principal, action, self.kind, self.relation)

    def require(self, action: Action) -> None:
        require(self.principal, action, self.kind, self.relation)

    def allowed_transitions(self) -> list[Status]:
        return allowed_transitions(self.principal, self.kind, Status(self.item.status), self.relation)

    def require_transition(self, target: Status) -> None:
        """A transition the lifecycle does not have from here is a 409 naming the caller's; one it has but the
        caller may not make is a 403."""
        kind, current = self.kind, Status(self.item.status)
        if target not in transitions_for(kind).get(current, ()):
            allowed = self.allowed_transitions()
            names = ", ".join(allowed) or "aucune"
            what = "une demande" if kind is ItemKind.REQUEST else "un engagement"
            raise ForbiddenTransition(
                f"Transition « {current} » → « {target} » impossible pour {what}. "
                f"Transitions possibles : {names}.",
                current_status=current.value,
                allowed_transitions=[t.value for t in allowed],
            )
        self.require(transition_action(kind, current, target))


def allowed_transitions(
    principal: Principal, kind: ItemKind, current: Status, relation: Relation
) -> list[Status]:
    """The statuses the caller may move the item to from `current`."""
    targets: Iterable[Status] = transitions_for(kind).get(current, ())
    return [t for t in targets if may(principal, transition_action(kind, current, t), kind, relation)]
