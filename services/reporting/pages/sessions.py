"""Sessions of the intranet page: a cookie signed with itsdangerous (HttpOnly, SameSite=Strict, Secure over
https) holding the signed-in key's id, role and partner (never the key), and the CSRF token of the forms.

A visitor who has not signed in gets a session too, without a principal: its token protects the sign-in form.
Signing in issues a new session (a new token); signing out removes it. A session ends
PAGES_SESSION_MAX_AGE_SECONDS after it was issued, and at once when its key is revoked (the api_key.revoked
event, heard by every process, including those started after it: revocations.py, `revoke`)."""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from services.reporting.config import ReportingSettings
from shared.auth import Principal, Role

COOKIE = "engagements_tableau_de_bord"
PATH = "/tableau-de-bord"


@dataclass(frozen=True)
class PageSession:
    csrf: str
    principal: Principal | None = None


def _dump_principal(principal: Principal) -> dict[str, Any]:
    return {
        "role": principal.role.value,
        "key_id": str(principal.key_id) if principal.key_id else None,
        "partner_id": str(principal.partner_id) if principal.partner_id else None,
        "visible": sorted(str(value) for value in principal.visible_partner_ids),
    }


def _load_principal(data: dict[str, Any]) -> Principal:
    return Principal(
        role=Role(data["role"]),
        key_id=uuid.UUID(data["key_id"]) if data["key_id"] else None,
        partner_id=uuid.UUID(data["partner_id"]) if data["partner_id"] else None,
        visible_partner_ids=frozenset(uuid.UUID(value) for value in data["visible"]),
    )


@dataclass
class Sessions:
    """Issues and reads the page's session cookie; one per process (app.state.page_sessions)."""

    secret: str
    max_age_seconds: int
    cookie_secure: bool | None = None
    # key id -> when its revocation was heard (monotonic); forgotten once no session issued before can live.
    _revoked: dict[uuid.UUID, float] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: ReportingSettings) -> Sessions:
        return cls(
            settings.pages_session_secret or secrets.token_urlsafe(32),
            settings.pages_session_max_age_seconds,
            settings.pages_cookie_secure,
        )

    @property
    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt="engagements.tableau-de-bord.session")

    def read(self, request: Request) -> PageSession | None:
        """The request's session, if its cookie is genuine, not expired, and its key not revoked."""
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_seconds)
            principal = _load_principal(data["principal"]) if data.get("principal") else None
            session = PageSession(csrf=str(data["csrf"]), principal=principal)
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        if principal is not None and principal.key_id in self._revoked:
            return None
        return session

    def new(self, principal: Principal | None) -> PageSession:
        """A new session (a new CSRF token), to be saved on the response."""
        return PageSession(csrf=secrets.token_urlsafe(32), principal=principal)

    def save(self, request: Request, response: Response, session: PageSession) -> None:
        """The session's cookie on the response."""
        value = self._serializer.dumps(
            {
                "csrf": session.csrf,
                "principal": _dump_principal(session.principal) if session.principal else None,
            }
        )
        response.set_cookie(
            COOKIE,
            value,
            max_age=self.max_age_seconds,
            path=PATH,
            secure=self._secure(request),
            httponly=True,
            samesite="strict",
        )

    def _secure(self, request: Request) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else request.url.scheme == "https"

    def clear(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            COOKIE, path=PATH, secure=self._secure(request), httponly=True, samesite="strict"
        )

    def revoke(self, key_id: uuid.UUID) -> None:
        """End every session of this key (its api_key.revoked event)."""
        now = time.monotonic()
        self._revoked = {
            key: heard for key, heard in self._revoked.items() if now - heard < self.max_age_seconds
        }
        self._revoked[key_id] = now


def token_matches(session: PageSession | None, token: str | None) -> bool:
    """The form's CSRF token is the session's (compared in constant time)."""
    return session is not None and token is not None and hmac.compare_digest(session.csrf, token)
