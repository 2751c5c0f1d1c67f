"""Who a reminder goes to, asked of the commitments service at send time (events carry no personal data).

GET {COMMITMENTS_URL}/v1/items/{item_id}/reminder-context?deadline_id=…&audience=… with the service key
(CommitmentsClient.reminder_context) answers the item, the deadline and the active, non-erased contacts with an
email behind each audience: the models below."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict


class _Answer(BaseModel):
    # Tolerant of fields the commitments service adds later.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ReminderItem(_Answer):
    id: uuid.UUID
    title: str
    plan_text: str | None = None
    kind: str
    status: str
    letter_reference: str | None = None
    sent_on: date | None = None
    plan_id: uuid.UUID
    plan_title: str
    commune: str | None = None
    axis_title: str | None = None
    objective_title: str | None = None
    lead_partner_id: uuid.UUID | None = None
    lead_partner_name: str | None = None
    owner_contact_id: uuid.UUID | None = None


class ReminderDeadline(_Answer):
    id: uuid.UUID
    kind: str
    label: str | None = None
    due_on: date
    original_wording: str | None = None
    version: int
    met_on: date | None = None
    # The commitments service's verdict (the scanner's rule): false once the deadline is met, the item closed,
    # or a response deadline answered.
    reminders_active: bool = True


class Recipient(_Answer):
    contact_id: uuid.UUID
    partner_id: uuid.UUID | None = None
    partner_name: str | None = None
    audience: str
    civility: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    email: str

    @property
    def display_name(self) -> str | None:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or None


class ReminderContext(_Answer):
    item: ReminderItem
    deadline: ReminderDeadline | None = None
    recipients: list[Recipient] = []
