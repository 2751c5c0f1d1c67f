"""Request-scoped dependencies every router uses: the session, the clock, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.auth.principal import Principal, Role
from services.notifications.auth.service import KeyVerifier
from services.notifications.config import NotificationsSettings
from shared.clock import Clock
from shared.db import request_session
from shared.problems import Forbidden, Unauthorized

# scope="function": the transaction commits when the endpoint returns, before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_settings(request: Request) -> NotificationsSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[NotificationsSettings, Depends(get_settings)]


def get_key_verifier(request: Request) -> KeyVerifier:
    return request.app.state.key_verifier  # type: ignore[no-any-return]


def presented_secret(request: Request) -> str:
    """The key behind `Authorization: Bearer <key>` (or `X-API-Key`), or Unauthorized."""
    secret = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("En-tête Authorization attendu : « Bearer <clé d'API> ».")
        secret = value.strip()
    if not secret:
        raise Unauthorized("Clé d'API manquante (en-tête Authorization: Bearer <clé>).")
    return secret


async def current_principal(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The caller, as the commitments service knows its key (headers declared for the OpenAPI security)."""
    return await get_key_verifier(request).verify(presented_secret(request))


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency that lets only the given roles through (403 otherwise)."""

    async def _check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise Forbidden(f"Action réservée aux rôles : {allowed}.")
        return principal

    return _check


EditorDep = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.CITY))]
ContactManagerDep = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.CITY, Role.PARTNER))]
