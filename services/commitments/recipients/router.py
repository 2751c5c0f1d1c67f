from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.commitments.contacts.schemas import ContactRead
from services.commitments.dependencies import ClockDep, SessionDep
from services.commitments.items.permissions import Action, ItemAccess
from services.commitments.items.router import may_on_item
from services.commitments.recipients import service
from services.commitments.recipients.schemas import (
    Audience,
    DesignatedContactCreate,
    DesignatedContactRead,
    ReminderContext,
)

router = APIRouter(prefix="/v1", tags=["Recipients"])


@router.get("/items/{item_id}/reminder-context", response_model=ReminderContext)
async def reminder_context(
    access: Annotated[ItemAccess, Depends(may_on_item(Action.READ_RECIPIENTS))],
    session: SessionDep,
    clock: ClockDep,
    deadline_id: uuid.UUID | None = None,
    audience: Annotated[list[Audience], Query(description="Rôles à qui écrire (répétable).")] = [  # noqa: B006 - FastAPI copies a default
        Audience.LIAISON,
        Audience.DEPUTY,
    ],
) -> ReminderContext:
    """Who a reminder about this item goes to today, with what the email needs (admin, city, service)."""
    return await service.reminder_context(session, clock, access.item, deadline_id, audience)


@router.post("/items/{item_id}/designated-contact", status_code=201, response_model=DesignatedContactRead)
async def designate_contact(
    body: DesignatedContactCreate,
    session: SessionDep,
    clock: ClockDep,
    access: Annotated[ItemAccess, Depends(may_on_item(Action.DESIGNATE_CONTACT))],
) -> DesignatedContactRead:
    """Name the partner's contact for this item (« pas pour moi » → a colleague): reminders go to them."""
    designation, contact = await service.designate_contact(
        session, access.principal, clock, access.item, body
    )
    return DesignatedContactRead(
        item_id=access.item.id, partner_id=designation.partner_id, contact=ContactRead.model_validate(contact)
    )
