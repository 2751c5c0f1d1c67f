"""Request-scoped dependencies every router uses: the session, the clock, the settings, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.config import ReportingSettings
from shared.auth import Principal, bearer_secret
from shared.clock import Clock
from shared.db import request_session
from shared.key_checks import KeyVerifier

# scope="function": the transaction ends when the endpoint returns, before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_settings(request: Request) -> ReportingSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[ReportingSettings, Depends(get_settings)]


def get_key_verifier(request: Request) -> KeyVerifier:
    return request.app.state.key_verifier  # type: ignore[no-any-return]


async def current_principal(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The caller, as the commitments service knows its key (every role reads reports, scoped)."""
    return await get_key_verifier(request).verify(bearer_secret(authorization, x_api_key))


PrincipalDep = Annotated[Principal, Depends(current_principal)]
