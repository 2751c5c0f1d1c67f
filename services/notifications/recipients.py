"""Who a reminder goes to, asked of the commitments service at send time (events carry no personal data).

GET {COMMITMENTS_URL}/v1/items/{item_id}/reminder-context?deadline_id=…&audience=… with the service key
answers the item, the deadline and the active, non-erased contacts with an email behind each audience."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date

import httpx
from pydantic import BaseModel, ConfigDict

from shared.problems import NotFound, ServiceUnavailable, Unauthorized


class ContextRefused(Exception):
    """The commitments service refused the question (a 4xx other than 404: a revoked key, a bad parameter):
    asking again the same way will not help."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"{status_code} {detail}".strip())
        self.status_code = status_code


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


class CommitmentsClient:
    """The commitments service, as the notifications service uses it (HTTP, the service key)."""

    def __init__(self, http: httpx.AsyncClient, service_key: str) -> None:
        self.http = http
        self.service_key = service_key

    async def reminder_context(self, item_id: uuid.UUID, deadline_id: uuid.UUID | None,
                               audiences: Iterable[str]) -> ReminderContext | None:
        """The item, deadline and recipients for these audiences; None when the item no longer exists."""
        params: list[tuple[str, str]] = [("audience", audience) for audience in dict.fromkeys(audiences)]
        if deadline_id is not None:
            params.append(("deadline_id", str(deadline_id)))
        try:
            response = await self.http.get(f"/v1/items/{item_id}/reminder-context", params=params,
                                           headers={"Authorization": f"Bearer {self.service_key}"})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"Service des engagements injoignable : {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if 400 <= response.status_code < 500:
            raise ContextRefused(response.status_code, response.text[:300])
        if response.status_code != 200:
            raise ServiceUnavailable(f"Service des engagements : réponse {response.status_code} au contexte de rappel.")
        return ReminderContext.model_validate_json(response.content)

    async def check_contact_visible(self, contact_id: uuid.UUID, secret: str) -> None:
        """NotFound unless the holder of `secret` may see this contact (the commitments service decides)."""
        try:
            response = await self.http.get(f"/v1/contacts/{contact_id}",
                                           headers={"Authorization": f"Bearer {secret}"})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"Service des engagements injoignable : {type(exc).__name__}") from exc
        if response.status_code == 404:
            raise NotFound("Contact introuvable.")
        if response.status_code == 401:
            raise Unauthorized("Clé d'API inconnue ou révoquée.")
        if response.status_code != 200:
            raise ServiceUnavailable(f"Service des engagements : réponse {response.status_code} sur le contact.")
