"""Events published by the commitments service on the `commitments.>` subjects.

Ids, statuses, dates and public titles only: names, emails and free text written by people stay in the
commitments service, so erasing a contact there erases it everywhere.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from shared.events.envelope import EventData

DeadlineKind = Literal["response", "delivery", "milestone"]


class PartnerCreated(EventData):
    type, summary = "partner.created", "Un partenaire (organisation) a été ajouté à l'annuaire."
    partner_id: UUID
    name: str
    kind: str
    is_group: bool
    member_ids: list[UUID] = []  # noqa: RUF012 - a pydantic field (copied per instance); the schema says default []


class PartnerUpdated(EventData):
    type, summary = "partner.updated", "Un partenaire a été modifié (nom, type, alias ou membres)."
    partner_id: UUID
    name: str
    kind: str
    member_ids: list[UUID] = []  # noqa: RUF012 - a pydantic field (copied per instance); the schema says default []


class ContactCreated(EventData):
    type, summary = (
        "contact.created",
        "Un contact a été rattaché à un partenaire (sans données personnelles).",
    )
    contact_id: UUID
    partner_id: UUID
    role: str


class ContactUpdated(EventData):
    type, summary = "contact.updated", "Les données d'un contact ont changé."
    contact_id: UUID
    partner_id: UUID
    role: str
    active: bool


class ContactErased(EventData):
    type, summary = "contact.erased", "Un contact a été anonymisé à sa demande : effacer toute copie."
    contact_id: UUID
    partner_id: UUID


class PlanCreated(EventData):
    type, summary = "plan.created", "Un plan d'action a été créé (import ou API)."
    plan_id: UUID
    title: str
    commune: str


class AxisCreated(EventData):
    type, summary = "axis.created", "Un axe a été ajouté à un plan."
    axis_id: UUID
    plan_id: UUID
    number: str
    title: str
    position: int


class ObjectiveCreated(EventData):
    type, summary = "objective.created", "Un objectif a été ajouté à un axe."
    objective_id: UUID
    axis_id: UUID
    plan_id: UUID
    letter: str
    title: str
    position: int


class ItemCreated(EventData):
    type, summary = "item.created", "Une demande à un partenaire ou un engagement de la ville a été créé."
    item_id: UUID
    plan_id: UUID
    objective_id: UUID
    kind: Literal["request", "commitment"]
    title: str
    status: str
    lead_partner_id: UUID | None
    associated_partner_ids: list[UUID]
    tags: list[str]
    needs_review: bool
    # The city agent in charge (a contact's id, never a name): the reporting service's calendar per owner.
    owner_contact_id: UUID | None = None


class ItemUpdated(EventData):
    type, summary = "item.updated", "Des champs d'un élément ont changé ; `changed` liste leurs noms."
    item_id: UUID
    changed: list[str]
    title: str
    lead_partner_id: UUID | None
    associated_partner_ids: list[UUID]
    tags: list[str]
    budget: Decimal | None
    needs_review: bool
    owner_contact_id: UUID | None = None


class ItemStatusChanged(EventData):
    type, summary = "item.status_changed", "Un élément a changé d'état dans son cycle de vie."
    item_id: UUID
    from_status: str
    to_status: str
    on: date


class DeadlineSet(EventData):
    type, summary = "deadline.set", "Une échéance a été créée ou sa date a changé (renégociation)."
    deadline_id: UUID
    item_id: UUID
    kind: DeadlineKind
    due_on: date
    previous_due_on: date | None
    deadline_version: int


class DeadlineRemoved(EventData):
    type, summary = "deadline.removed", "Une échéance a été supprimée."
    deadline_id: UUID
    item_id: UUID


class DeadlineMetChanged(EventData):
    type, summary = (
        "deadline.met_changed",
        "Un jalon a été marqué atteint (ou ne l'est plus) ; les autres échéances suivent l'état de l'élément.",
    )
    deadline_id: UUID
    item_id: UUID
    met_on: date | None


class DeadlineProposed(EventData):
    type, summary = "deadline.proposed", "Un partenaire propose une nouvelle date pour une échéance."
    proposal_id: UUID
    deadline_id: UUID
    item_id: UUID
    proposed_due_on: date


class DeadlineProposalDecided(EventData):
    type, summary = "deadline.proposal_decided", "La ville a accepté ou refusé une date proposée."
    proposal_id: UUID
    deadline_id: UUID
    item_id: UUID
    accepted: bool


class JournalEntryAdded(EventData):
    type, summary = "journal.entry_added", "Une réponse ou un point d'avancement a été consigné."
    entry_id: UUID
    item_id: UUID
    kind: Literal["response", "progress", "note"]
    progress_percent: int | None
    on: date


class ApiKeyCreated(EventData):
    type, summary = "api_key.created", "Une clé d'API a été créée."
    key_id: UUID
    role: str
    partner_id: UUID | None


class ApiKeyRevoked(EventData):
    type, summary = "api_key.revoked", "Une clé d'API a été révoquée : tout service doit la refuser aussitôt."
    key_id: UUID


ReminderAudience = Literal["liaison", "deputy", "hierarchy", "city_owner", "elected"]
EscalationLevel = Literal["none", "late", "very_late"]


class _DeadlineReminder(EventData):
    """What the deadline scanner says about one step of one deadline's reminder rules.

    `reminder_key` = "<deadline_id>:<deadline_version>:<arming>:<step>" is unique: each step of each armed
    version of a deadline fires once. `audience` lists the roles to write to; the notifications service
    resolves the people behind them at send time (GET /v1/items/{item_id}/reminder-context)."""

    reminder_key: str
    deadline_id: UUID
    item_id: UUID
    plan_id: UUID
    kind: DeadlineKind
    due_on: date
    deadline_version: int
    step: str
    # Working days from the deadline: negative before it, 0 on the day, positive after it.
    offset_working_days: int
    escalation: EscalationLevel
    audience: list[ReminderAudience]
    partner_ids: list[UUID]
    fire_at: datetime


class DeadlineApproaching(_DeadlineReminder):
    type, summary = "deadline.approaching", "Une échéance approche (rappel avant la date)."


class DeadlineDue(_DeadlineReminder):
    type, summary = "deadline.due", "Une échéance tombe aujourd'hui."


class DeadlineOverdue(_DeadlineReminder):
    type, summary = "deadline.overdue", "Une échéance est dépassée (relance)."


class DeadlineEscalated(_DeadlineReminder):
    type, summary = (
        "deadline.escalated",
        "Une échéance est dépassée depuis longtemps : la relance monte d'un niveau.",
    )


class ItemContactAssigned(EventData):
    type, summary = (
        "item.contact_assigned",
        "Un contact a été désigné pour un élément à la place du correspondant habituel (« pas pour moi »).",
    )
    item_id: UUID
    partner_id: UUID
    contact_id: UUID
    previous_contact_id: UUID | None
