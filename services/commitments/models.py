"""Imports every ORM model so that Alembic and the metadata see the whole schema."""

from services.commitments.auth.models import ApiKey
from services.commitments.contacts.models import Contact
from services.commitments.database import Base
from services.commitments.deadlines.models import Deadline, DeadlineChange, DeadlineProposal
from services.commitments.history.models import AuditEntry
from services.commitments.idempotency.models import IdempotencyRecord
from services.commitments.items.models import Item, ItemContact, ItemPartner, ItemTag
from services.commitments.journal.models import JournalEntry
from services.commitments.outbox.models import OutboxMessage
from services.commitments.partners.models import GroupMembership, Partner, PartnerAlias
from services.commitments.plans.models import Axis, Objective, Plan, PlanImport
from services.commitments.reminders.models import ReminderFiring, ReminderRuleSet, ReminderSchedule

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Axis",
    "Base",
    "Contact",
    "Deadline",
    "DeadlineChange",
    "DeadlineProposal",
    "GroupMembership",
    "IdempotencyRecord",
    "Item",
    "ItemContact",
    "ItemPartner",
    "ItemTag",
    "JournalEntry",
    "Objective",
    "OutboxMessage",
    "Partner",
    "PartnerAlias",
    "Plan",
    "PlanImport",
    "ReminderFiring",
    "ReminderRuleSet",
    "ReminderSchedule",
]
