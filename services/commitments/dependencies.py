"""Request-scoped dependencies every router uses: the session, the clock, the caller.

The caller comes from `app.state.authenticator` (the API keys of `auth/`, set by `app.py`): this module is
plumbing below every domain package, `auth` included, whose own router uses it too."""

from __future__ import annotations

import uuid
from typing import Annotated, Protocol

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.database import request_session
from shared.auth import Principal, Role, bearer_secret, role_guard
from shared.clock import Clock
from shared.problems import InvalidInput

# scope="function": the transaction commits when the endpoint returns, before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]


async def get_clock(request: Request) -> Clock:  # async: a plain def would cost a thread hop per request
    return request.app.state.clock  # type: ignore[no-any-return]  # Starlette's app.state is untyped


ClockDep = Annotated[Clock, Depends(get_clock)]


class Authenticator(Protocol):
    """Turns a presented key into the caller (`auth.service.KeyAuthenticator`)."""

    async def principal(self, session: AsyncSession, secret: str) -> Principal: ...

    async def acting_as(
        self, session: AsyncSession, principal: Principal, clock: Clock, contact_id: uuid.UUID
    ) -> Principal: ...


async def current_principal(
    request: Request,
    session: SessionDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_acting_contact: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The caller behind `Authorization: Bearer <key>` (or `X-API-Key`); a service key may add
    `X-Acting-Contact: <contact id>` to act as that contact (signed links in reminder emails)."""
    secret = bearer_secret(authorization, x_api_key)
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.principal(session, secret)
    if x_acting_contact is None:
        return principal
    try:
        contact_id = uuid.UUID(x_acting_contact.strip())
    except ValueError:
        raise InvalidInput("X-Acting-Contact doit être l'identifiant (UUID) d'un contact.") from None
    return await authenticator.acting_as(session, principal, request.app.state.clock, contact_id)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


require_roles = role_guard(current_principal)


AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
EditorDep = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.CITY))]
# What a partner may do on an item (and what anyone may do to one) is not a role guard: items/permissions.py.
