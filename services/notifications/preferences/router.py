from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from services.notifications.commitments_client import CommitmentsClient
from services.notifications.dependencies import ClockDep, ContactManagerDep, SessionDep
from services.notifications.preferences import service
from services.notifications.preferences.schemas import PreferencesRead, PreferencesUpdate
from shared.auth import bearer_secret

router = APIRouter(prefix="/v1", tags=["Preferences"])

_PROBLEM = {
    "content": {
        "application/problem+json": {
            "example": {
                "type": "urn:engagements:problem:not-found",
                "title": "Introuvable",
                "status": 404,
                "detail": "Contact introuvable.",
                "code": "not-found",
            }
        }
    }
}


async def _check_contact(request: Request, contact_id: uuid.UUID) -> None:
    """NotFound unless the caller's own key may see the contact in the commitments service (a partner: its own).
    Called in the endpoint, after the body is validated: a bad body is a 422 whoever the contact is."""
    secret = bearer_secret(request.headers.get("authorization"), request.headers.get("x-api-key"))
    commitments: CommitmentsClient = request.app.state.commitments
    await commitments.check_contact_visible(contact_id, secret)


@router.get("/contacts/{contact_id}/preferences", response_model=PreferencesRead, responses={404: _PROBLEM})
async def get_preferences(
    contact_id: uuid.UUID, request: Request, session: SessionDep, _: ContactManagerDep
) -> PreferencesRead:
    """A contact's reminder preferences (admin, city, or the contact's own partner)."""
    await _check_contact(request, contact_id)
    return await service.read(session, contact_id)


@router.put(
    "/contacts/{contact_id}/preferences",
    response_model=PreferencesRead,
    responses={404: _PROBLEM, 422: _PROBLEM},
)
async def put_preferences(
    contact_id: uuid.UUID,
    body: PreferencesUpdate,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    _: ContactManagerDep,
) -> PreferencesRead:
    """Choose immediate reminders, or a weekly digest of the "approaching" ones (admin, city, own partner)."""
    await _check_contact(request, contact_id)
    return await service.update(session, clock, contact_id, body)
