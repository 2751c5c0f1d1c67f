"""Which package reacts to which domain event, in order (the mechanism: messagebus.py; docs/architecture.md).

A package publishes what happened to what it owns; the packages above it that care react here, in the
same transaction. Order matters where one reaction reads what another wrote: an answer first meets the
response deadline (deadlines), then the reminders see it met, then the comment is journaled (whose own
"partner responded" is handled after them).
"""

from __future__ import annotations

from services.commitments import messagebus
from services.commitments.deadlines import service as deadlines
from services.commitments.deadlines.events import DeadlineDated, MilestoneMetChanged
from services.commitments.items import events as item_events
from services.commitments.journal import service as journal
from services.commitments.reminders import service as reminders

HANDLERS: dict[type, list[messagebus.Handler]] = {
    DeadlineDated: [reminders.on_deadline_dated],  # a new date: the schedule re-armed against it
    MilestoneMetChanged: [reminders.on_milestone_met_changed],
    item_events.StatusChanged: [
        deadlines.on_item_status_changed,
        reminders.on_item_status_changed,
        journal.on_item_status_changed,
    ],
    item_events.LeadChanged: [reminders.on_lead_changed],
    item_events.PartnerResponded: [reminders.on_partner_responded],  # escalation counts again from today
}


def install() -> None:
    """Wire the reactions: every process that changes data calls this first (the API, the commands, the
    scanner's process)."""
    messagebus.install(HANDLERS)
