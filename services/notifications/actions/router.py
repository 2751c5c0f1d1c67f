"""/actions/{token}: the pages a reminder's signed links open. GET shows, only POST acts (mail scanners
fetch links before people click them)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.actions import pages, service
from services.notifications.actions.links import MAX_TOKEN_LENGTH, ActionLink, MissingSecret
from services.notifications.actions.schemas import FIELD_LIMIT, UnreadableForm, parse_form
from services.notifications.commitments_client import CommitmentsClient, ContactActions
from services.notifications.dependencies import ClockDep, SettingsDep
from shared.clock import paris_today
from shared.problems import DomainError


@contextlib.asynccontextmanager
async def _require_secret(app: FastAPI) -> AsyncIterator[None]:
    # Without a secret anyone could forge a link and act for any contact: refuse to start rather than serve.
    if not app.state.settings.action_link_secret:
        raise MissingSecret(
            "ACTION_LINK_SECRET est vide : le service des notifications refuse de démarrer "
            "(les liens d'action des courriels pourraient être contrefaits)."
        )
    yield


router = APIRouter(
    prefix="/actions", tags=["Action links"], include_in_schema=False, lifespan=_require_secret
)

Token = Annotated[str, Path(max_length=MAX_TOKEN_LENGTH)]


def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.sessionmaker  # type: ignore[no-any-return]  # Starlette's app.state is untyped


SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


def _actions(request: Request, link: ActionLink) -> ContactActions:
    commitments: CommitmentsClient = request.app.state.commitments
    return commitments.acting_as(link.contact_id)


async def _open(
    sessionmaker: async_sessionmaker[AsyncSession], settings: SettingsDep, clock: ClockDep, token: str
) -> ActionLink:
    # A short read of its own: the page must not hold a transaction while it calls the commitments service.
    async with sessionmaker() as session, session.begin():
        return await service.open_link(session, settings.action_link_secret, token, clock.now())


async def _form_fields(request: Request) -> dict[str, str]:
    if (
        request.headers.get("content-type", "").split(";")[0].strip().lower()
        != "application/x-www-form-urlencoded"
    ):
        raise UnreadableForm("Formulaire attendu (application/x-www-form-urlencoded).")
    try:
        body = (await request.body()).decode("utf-8")
        parsed = parse_qs(body, keep_blank_values=True, max_num_fields=20, errors="strict")
    except ValueError:  # UnicodeDecodeError included; also more fields than any of the forms has
        raise UnreadableForm("Formulaire illisible.") from None
    return {name: values[0][:FIELD_LIMIT] for name, values in parsed.items()}


@router.get("/{token}", response_class=HTMLResponse)
async def show_action(
    token: Token, request: Request, sessionmaker: SessionmakerDep, settings: SettingsDep, clock: ClockDep
) -> HTMLResponse:
    """The page of one link: what it is about and a form (nothing changes until the form is sent)."""
    try:
        link = await _open(sessionmaker, settings, clock, token)
        item = await _actions(request, link).item(link.item_id)
    except DomainError as error:
        return pages.error_page(error)
    return pages.form_page(link, item, paris_today(clock))


@router.post("/{token}", response_class=HTMLResponse)
async def submit_action(
    token: Token, request: Request, sessionmaker: SessionmakerDep, settings: SettingsDep, clock: ClockDep
) -> HTMLResponse:
    """Record the link's action in the commitments service as its contact, then show the result."""
    try:
        link = await _open(sessionmaker, settings, clock, token)
        actions = _actions(request, link)
        fields = await _form_fields(request)
        form, errors = parse_form(link.purpose.value, fields)
        if form is not None:
            errors = service.check_form(link, form, paris_today(clock))
        if form is None or errors:
            return pages.form_page(link, await actions.item(link.item_id), paris_today(clock), fields, errors)
        outcome = await service.perform(sessionmaker, actions, link, form, clock)
    except DomainError as error:
        return pages.error_page(error)
    return pages.result_page(outcome)
