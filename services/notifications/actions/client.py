"""The commitments service, called as the contact a link was sent to (service key + X-Acting-Contact).

The commitments service then treats the call exactly like one from that contact's partner: another partner's
item answers 404, a forbidden transition 409, and its history names the contact.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from typing import Any

import httpx

from shared.problems import DomainError

logger = logging.getLogger(__name__)


class ActionRefused(DomainError):
    """The commitments service said no; status and French detail are its own (404, 409, 422 …)."""

    code, title = "action-refused", "Action refusée"

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = {404: "Demande introuvable", 409: "Action impossible",
                      422: "Données refusées", 403: "Lien inutilisable"}.get(status, "Action refusée")


class CommitmentsUnavailable(DomainError):
    status, code, title = 503, "commitments-unavailable", "Service momentanément indisponible"


_NOT_YOURS = ("Cette demande n'est pas accessible avec ce lien : elle ne concerne pas votre organisation, ou "
              "elle a été supprimée.")
_CONTACT_GONE = ("Votre fiche de contact n'est plus active auprès de la Ville : ce lien ne peut plus servir. "
                 "Répondez directement au responsable du dossier.")
_UNAVAILABLE = ("Le service de suivi des engagements ne répond pas pour le moment. Votre action n'a pas été "
                "enregistrée ; réessayez dans quelques minutes avec le même lien.")


class ContactActions:
    """Calls to the commitments service on behalf of one contact."""

    def __init__(self, http: httpx.AsyncClient, service_key: str, contact_id: uuid.UUID) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {service_key}", "X-Acting-Contact": str(contact_id)}

    async def _call(self, method: str, path: str, json: dict[str, Any] | None = None,
                    idempotency_key: str | None = None) -> dict[str, Any]:
        headers = dict(self.headers)
        if idempotency_key is not None:
            # A repeated click, or a retry after a crash, replays the first answer instead of acting twice.
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = await self.http.request(method, path, json=json, headers=headers)
        except httpx.HTTPError as exc:
            logger.warning("commitments service unreachable for %s %s: %s", method, path, exc)
            raise CommitmentsUnavailable(_UNAVAILABLE) from exc
        if response.status_code < 300:
            answer: dict[str, Any] = response.json()
            return answer
        if response.status_code == 404:
            raise ActionRefused(404, _NOT_YOURS)
        if response.status_code == 403:
            raise ActionRefused(403, _CONTACT_GONE)
        if response.status_code in (409, 412, 422):
            raise ActionRefused(409 if response.status_code == 412 else response.status_code,
                                _detail(response))
        # 401 (the service key is wrong or revoked), 5xx: not the person's fault, and nothing was done.
        logger.error("commitments service answered %s to %s %s", response.status_code, method, path)
        raise CommitmentsUnavailable(_UNAVAILABLE)

    async def item(self, item_id: uuid.UUID) -> dict[str, Any]:
        """The item as the contact sees it (title, status, allowed transitions)."""
        return await self._call("GET", f"/v1/items/{item_id}")

    async def transition(self, item_id: uuid.UUID, to: str, key: str, comment: str | None = None) -> dict[str, Any]:
        """Move the item to `to` (acknowledged, delivered …)."""
        body: dict[str, Any] = {"to": to}
        if comment:
            body["comment"] = comment
        return await self._call("POST", f"/v1/items/{item_id}/transitions", body, key)

    async def add_progress(self, item_id: uuid.UUID, text: str, evidence_url: str | None, key: str) -> dict[str, Any]:
        """A progress entry in the item's journal."""
        body: dict[str, Any] = {"kind": "progress", "text": text}
        if evidence_url:
            body["evidence_url"] = evidence_url
        return await self._call("POST", f"/v1/items/{item_id}/journal", body, key)

    async def propose_date(self, deadline_id: uuid.UUID, proposed_due_on: date, reason: str,
                           key: str) -> dict[str, Any]:
        """A new date proposed for the deadline, for the city to accept or refuse."""
        body = {"proposed_due_on": proposed_due_on.isoformat(), "reason": reason}
        return await self._call("POST", f"/v1/deadlines/{deadline_id}/proposals", body, key)

    async def designate(self, item_id: uuid.UUID, person: dict[str, Any], key: str) -> dict[str, Any]:
        """A colleague becomes the partner's contact for this item."""
        return await self._call("POST", f"/v1/items/{item_id}/designated-contact", person, key)


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return detail if isinstance(detail, str) and detail else "La demande a été refusée par le service de suivi."
