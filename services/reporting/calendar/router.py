"""Routes of the calendar feeds (/v1/calendars): staff manage the feeds with their keys; a calendar client
reads a feed with its secret alone in the URL."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import Response

from services.reporting.calendar import service
from services.reporting.calendar.ics import ReminderDays
from services.reporting.calendar.schemas import CalendarFeedCreate, CalendarFeedCreated, CalendarFeedRead
from services.reporting.commitments_client import CommitmentsClient
from services.reporting.dependencies import ClockDep, SessionDep, SettingsDep, current_principal
from shared.auth import Principal, Role, bearer_secret, role_guard

router = APIRouter(prefix="/v1/calendars", tags=["Calendars"])

require_roles = role_guard(current_principal)


def caller_secret(
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    """The caller's key, to ask the commitments service on its behalf."""
    return bearer_secret(authorization, x_api_key)


SecretDep = Annotated[str, Depends(caller_secret)]
StaffDep = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.CITY))]
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"


@router.post(
    "",
    response_model=CalendarFeedCreated,
    status_code=status.HTTP_201_CREATED,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _PROBLEM},
)
async def create_feed(
    body: CalendarFeedCreate,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    principal: StaffDep,
    secret: SecretDep,
) -> CalendarFeedCreated:
    """A new feed of a partner's deadlines, or of a city owner's; its secret URL is shown this once (admin and
    city keys)."""
    commitments: CommitmentsClient = request.app.state.commitments

    async def owner_exists(contact_id: uuid.UUID) -> None:
        await commitments.check_contact_visible(contact_id, secret)

    feed, token = await service.create_feed(session, principal, clock, body, owner_exists)
    read = CalendarFeedRead.model_validate(feed, from_attributes=True)
    url = f"{settings.reporting_public_url.rstrip('/')}/v1/calendars/{token}.ics"
    return CalendarFeedCreated(**read.model_dump(), token=token, url=url)


@router.get("", response_model=list[CalendarFeedRead], responses={403: _PROBLEM})
async def list_feeds(
    session: SessionDep, _: StaffDep, partner_id: uuid.UUID | None = None
) -> list[CalendarFeedRead]:
    """Every feed, revoked ones included, without their secrets (admin and city keys)."""
    return [
        CalendarFeedRead.model_validate(feed, from_attributes=True)
        for feed in await service.list_feeds(session, partner_id)
    ]


@router.delete("/{feed_id}", status_code=status.HTTP_204_NO_CONTENT, responses={403: _PROBLEM, 404: _PROBLEM})
async def revoke_feed(feed_id: uuid.UUID, session: SessionDep, clock: ClockDep, _: StaffDep) -> Response:
    """Revoke a feed: its URL answers 404 from now on (admin and city keys)."""
    await service.revoke_feed(session, clock, feed_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{token}.ics", response_class=Response, responses={200: {"content": {ICS_MEDIA_TYPE: {}}}, 404: _PROBLEM}
)
async def feed(token: str, session: SessionDep, clock: ClockDep, settings: SettingsDep) -> Response:
    """The iCalendar feed behind a secret (no other authentication: calendar clients send no header)."""
    rules = ReminderDays(
        settings.feed_alarm_working_days, settings.feed_alarm_on_due_day, settings.feed_alarm_time
    )
    content = await service.feed_ics(session, clock, token, settings.feed_item_url_template(), rules)
    return Response(
        content,
        media_type=ICS_MEDIA_TYPE,
        headers={
            "Content-Disposition": 'inline; filename="echeances.ics"',
            "Cache-Control": "private, no-store",
        },
    )
