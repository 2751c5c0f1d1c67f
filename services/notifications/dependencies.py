"""Request-scoped dependencies every router uses: the session, the clock, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.auth.service import KeyVerifier
from services.notifications.config import NotificationsSettings
from shared.auth import Principal, Role, bearer_secret, role_guard
from shared.clock import Clock
from shared.db import request_session

# scope="function": the transaction commits when the endpoint returns, before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]  # Starlette's app.state is untyped


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_settings(request: Request) -> NotificationsSettings:
    return request.app.state.settings  # type: ignore[no-any-return]  # Starlette's app.state is untyped


SettingsDep = Annotated[NotificationsSettings, Depends(get_settings)]


def get_key_verifier(request: Request) -> KeyVerifier:
    return request.app.state.key_verifier  # type: ignore[no-any-return]  # Starlette's app.state is untyped


async def current_principal(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The caller, as the commitments service knows its key (headers declared for the OpenAPI security)."""
    return await get_key_verifier(request).verify(bearer_secret(authorization, x_api_key))


PrincipalDep = Annotated[Principal, Depends(current_principal)]


require_roles = role_guard(current_principal)


EditorDep = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.CITY))]
ContactManagerDep = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.CITY, Role.PARTNER))]
# The mail server's pipe that hands over bounces (POST /v1/deliveries/bounces): a `service` key, or an admin's.
BounceReporterDep = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.SERVICE))]
