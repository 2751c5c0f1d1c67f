from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.commitments.auth.principal import Principal
from services.commitments.contacts.schemas import ContactRead
from services.commitments.dependencies import ClockDep, SessionDep, WriterDep, require_roles
from services.commitments.items import service as items_service
from services.commitments.recipients import service
from services.commitments.recipients.schemas import (
    Audience,
    DesignatedContactCreate,
    DesignatedContactRead,
    ReminderContext,
)

router = APIRouter(prefix="/v1", tags=["Recipients"])

RecipientsReaderDep = Annotated[Principal, Depends(require_roles(*service.RECIPIENT_READERS))]


@router.get("/items/{item_id}/reminder-context", response_model=ReminderContext)
async def reminder_context(
    item_id: uuid.UUID, session: SessionDep, clock: ClockDep, principal: RecipientsReaderDep,
    deadline_id: uuid.UUID | None = None,
    audience: Annotated[list[Audience], Query(description="Rôles à qui écrire (répétable).")] = [  # noqa: B006
        Audience.LIAISON, Audience.DEPUTY],
) -> ReminderContext:
    """Who a reminder about this item goes to today, with what the email needs (admin, city, service)."""
    item = await items_service.get_visible(session, principal, item_id)
    return await service.reminder_context(session, clock, item, deadline_id, audience)


@router.post("/items/{item_id}/designated-contact", status_code=201, response_model=DesignatedContactRead)
async def designate_contact(item_id: uuid.UUID, body: DesignatedContactCreate, session: SessionDep,
                            clock: ClockDep, principal: WriterDep) -> DesignatedContactRead:
    """Name the partner's contact for this item (« pas pour moi » → a colleague): reminders go to them."""
    item = await items_service.get_visible(session, principal, item_id)
    designation, contact = await service.designate_contact(session, principal, clock, item, body)
    return DesignatedContactRead(item_id=item.id, partner_id=designation.partner_id,
                                 contact=ContactRead.model_validate(contact))
