"""The commitments service as the notifications service calls it: one client per process for the key checks
(`whoami`), the recipients of a reminder (`reminder-context`), the contacts the preferences API is asked
about, and the actions of a signed link, made as its contact (`X-Acting-Contact`).

Timeouts, the connection pool, retries of idempotent calls and the French errors come from
shared/service_client.py; this module says which calls exist and what their refusals mean here."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any, ClassVar

import httpx

from services.notifications.config import NotificationsSettings
from services.notifications.recipients import ReminderContext
from shared.auth import Principal
from shared.key_checks import ask_whoami
from shared.problems import (
    DomainError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
)
from shared.service_client import ServiceClient
from shared.single_flight import SingleFlight

logger = logging.getLogger(__name__)

NAME = "Le service des engagements"

ContextQuestion = tuple[uuid.UUID, uuid.UUID | None, tuple[str, ...]]


class ContextRefused(Exception):
    """The commitments service refused the question (a 4xx other than 404: a revoked key, a bad parameter):
    asking again the same way will not help."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"{status_code} {detail}".strip())
        self.status_code = status_code


class CommitmentsClient:
    """The commitments service, for the notifications service: its own `service` key, or the caller's key."""

    def __init__(self, service: ServiceClient, service_key: str) -> None:
        self.service = service
        self.service_key = service_key
        # Concurrent identical questions (the consumer and the sender about one deadline) share one request.
        # Nothing is kept once answered: a reminder is checked against fresh data.
        self._contexts: SingleFlight[ContextQuestion, ReminderContext | None] = SingleFlight()

    @classmethod
    def from_settings(
        cls, settings: NotificationsSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> CommitmentsClient:
        """The process's client (COMMITMENTS_URL, COMMITMENTS_API_KEY and the COMMITMENTS_* call settings)."""
        return cls(
            ServiceClient(settings.commitments_url, NAME, settings.commitments_policy(), transport),
            settings.commitments_api_key,
        )

    @property
    def http(self) -> httpx.AsyncClient:
        return self.service.http

    async def aclose(self) -> None:
        await self.service.aclose()

    def _as_service(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.service_key}"}

    async def whoami(self, secret: str) -> Principal | None:
        """The principal behind a key; None when the commitments service refuses it (unknown, revoked)."""
        return await ask_whoami(self.service, secret)

    async def reminder_context(
        self, item_id: uuid.UUID, deadline_id: uuid.UUID | None, audiences: Iterable[str]
    ) -> ReminderContext | None:
        """The item, deadline and recipients for these audiences; None when the item no longer exists."""
        question = (item_id, deadline_id, tuple(dict.fromkeys(audiences)))
        return await self._contexts.run(question, lambda: self._ask_context(*question))

    async def _ask_context(
        self, item_id: uuid.UUID, deadline_id: uuid.UUID | None, audiences: tuple[str, ...]
    ) -> ReminderContext | None:
        params: list[tuple[str, str]] = [("audience", audience) for audience in audiences]
        if deadline_id is not None:
            params.append(("deadline_id", str(deadline_id)))
        try:
            response = await self.service.call(
                "GET", f"/v1/items/{item_id}/reminder-context", params=params, headers=self._as_service()
            )
        except NotFound:
            return None
        except ServiceUnavailable:
            raise
        except DomainError as refusal:
            raise ContextRefused(refusal.status, refusal.detail) from refusal
        return ReminderContext.model_validate_json(response.content)

    async def check_contact_visible(self, contact_id: uuid.UUID, secret: str) -> None:
        """NotFound unless the holder of `secret` may see this contact (the commitments service decides)."""
        await self.service.call(
            "GET", f"/v1/contacts/{contact_id}", headers={"Authorization": f"Bearer {secret}"}
        )

    def acting_as(self, contact_id: uuid.UUID) -> ContactActions:
        """Calls made as this contact: exactly its partner's rights, and the history names it."""
        return ContactActions(self.service, self.service_key, contact_id)


class ActionRefused(DomainError):
    """The commitments service said no to a contact's action; the status and French detail are its own."""

    code = "action-refused"
    TITLES: ClassVar[dict[int, str]] = {
        403: "Action non autorisée",
        404: "Demande introuvable",
        409: "Action impossible",
        422: "Données refusées",
    }

    def __init__(self, status: int, detail: str, title: str | None = None, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.status = status
        self.title = title or self.TITLES.get(status, "Action refusée")


class CommitmentsUnavailable(ServiceUnavailable):
    code = "commitments-unavailable"


_NOT_YOURS = (
    "Cette demande n'est pas accessible avec ce lien : elle ne concerne pas votre organisation, ou "
    "elle a été supprimée."
)
_CONTACT_GONE = (
    "Votre fiche de contact n'est plus active auprès de la Ville : ce lien ne peut plus servir. "
    "Répondez directement au responsable du dossier."
)
_UNAVAILABLE = (
    "Le service de suivi des engagements ne répond pas pour le moment. Votre action n'a pas été "
    "enregistrée ; réessayez dans quelques minutes avec le même lien."
)


class ContactActions:
    """Calls to the commitments service on behalf of one contact (service key + X-Acting-Contact). Every POST
    carries an Idempotency-Key: a repeated click, a retry after a lost answer or after a crash replays the
    first answer instead of acting twice, which is also what lets the client retry it."""

    def __init__(self, service: ServiceClient, service_key: str, contact_id: uuid.UUID) -> None:
        self.service = service
        self.headers = {"Authorization": f"Bearer {service_key}", "X-Acting-Contact": str(contact_id)}

    async def _call(
        self, method: str, path: str, json: dict[str, Any] | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        try:
            response = await self.service.call(
                method, path, json=json, headers=self.headers, idempotency_key=idempotency_key
            )
        except ServiceUnavailable as exc:
            raise CommitmentsUnavailable(_UNAVAILABLE) from exc
        except NotFound as exc:
            raise ActionRefused(404, _NOT_YOURS) from exc
        except Forbidden as exc:
            # The permission matrix names the action it refuses ("only the partner asked may …"): its own
            # French detail says why. A 403 without one refuses the acting contact itself: no longer active.
            if "action" in exc.extensions:
                raise ActionRefused(403, exc.detail, **exc.extensions) from exc
            raise ActionRefused(403, _CONTACT_GONE, "Lien inutilisable") from exc
        except PreconditionFailed as exc:
            raise ActionRefused(409, exc.detail) from exc
        except DomainError as exc:
            if exc.status in (409, 422):
                raise ActionRefused(exc.status, exc.detail, **exc.extensions) from exc
            # 401 (the service key is wrong or revoked), 400: not the person's fault, and nothing was done.
            logger.error("commitments service answered %s to %s %s: %s", exc.status, method, path, exc.detail)
            raise CommitmentsUnavailable(_UNAVAILABLE) from exc
        answer: dict[str, Any] = response.json()
        return answer

    async def item(self, item_id: uuid.UUID) -> dict[str, Any]:
        """The item as the contact sees it (title, status, allowed transitions)."""
        return await self._call("GET", f"/v1/items/{item_id}")

    async def transition(
        self, item_id: uuid.UUID, to: str, key: str, comment: str | None = None
    ) -> dict[str, Any]:
        """Move the item to `to` (acknowledged, delivered …)."""
        body: dict[str, Any] = {"to": to}
        if comment:
            body["comment"] = comment
        return await self._call("POST", f"/v1/items/{item_id}/transitions", body, key)

    async def add_progress(
        self, item_id: uuid.UUID, text: str, evidence_url: str | None, key: str
    ) -> dict[str, Any]:
        """A progress entry in the item's journal."""
        body: dict[str, Any] = {"kind": "progress", "text": text}
        if evidence_url:
            body["evidence_url"] = evidence_url
        return await self._call("POST", f"/v1/items/{item_id}/journal", body, key)

    async def propose_date(
        self, deadline_id: uuid.UUID, proposed_due_on: date, reason: str, key: str
    ) -> dict[str, Any]:
        """A new date proposed for the deadline, for the city to accept or refuse."""
        body = {"proposed_due_on": proposed_due_on.isoformat(), "reason": reason}
        return await self._call("POST", f"/v1/deadlines/{deadline_id}/proposals", body, key)

    async def designate(self, item_id: uuid.UUID, person: dict[str, Any], key: str) -> dict[str, Any]:
        """A colleague becomes the partner's contact for this item."""
        return await self._call("POST", f"/v1/items/{item_id}/designated-contact", person, key)
