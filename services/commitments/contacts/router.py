from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from services.commitments.contacts import service
from services.commitments.contacts.models import Contact
from services.commitments.contacts.schemas import ContactCreate, ContactExport, ContactRead, ContactUpdate
from services.commitments.dependencies import ClockDep, EditorDep, SessionDep, require_roles
from services.commitments.partners.router import PartnerDep
from shared.auth import Principal, Role

router = APIRouter(prefix="/v1", tags=["Contacts"])

# Contacts are personal data: the intranet's read-only keys do not see them.
ContactReaderDep = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.CITY, Role.PARTNER))]


async def valid_contact(contact_id: uuid.UUID, session: SessionDep, principal: ContactReaderDep) -> Contact:
    return await service.get_visible(session, principal, contact_id)


ContactDep = Annotated[Contact, Depends(valid_contact)]


@router.get("/partners/{partner_id}/contacts", response_model=list[ContactRead])
async def list_contacts(partner: PartnerDep, session: SessionDep, _: ContactReaderDep) -> list[ContactRead]:
    """A partner's contacts (liaison, deputy, hierarchy)."""
    return [ContactRead.model_validate(c) for c in await service.list_for_partner(session, partner)]


@router.post("/partners/{partner_id}/contacts", status_code=201, response_model=ContactRead)
async def create_contact(
    body: ContactCreate, partner: PartnerDep, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> ContactRead:
    """Add a contact to a partner."""
    return ContactRead.model_validate(await service.create_contact(session, editor, clock, partner, body))


@router.get("/contacts/{contact_id}", response_model=ContactRead)
async def get_contact(contact: ContactDep) -> ContactRead:
    """One contact."""
    return ContactRead.model_validate(contact)


@router.patch("/contacts/{contact_id}", response_model=ContactRead)
async def update_contact(
    body: ContactUpdate, contact: ContactDep, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> ContactRead:
    """Change a contact's details, role or period of activity."""
    return ContactRead.model_validate(await service.update_contact(session, editor, clock, contact, body))


@router.get("/contacts/{contact_id}/export", response_model=ContactExport)
async def export_contact(contact: ContactDep, session: SessionDep, _: EditorDep) -> ContactExport:
    """Everything held about this person (right of access)."""
    return await service.export_contact(session, contact)


@router.post("/contacts/{contact_id}/erasure", response_model=ContactRead)
async def erase_contact(
    contact: ContactDep, session: SessionDep, clock: ClockDep, editor: EditorDep
) -> ContactRead:
    """Anonymise this person everywhere (right to erasure); cannot be undone."""
    return ContactRead.model_validate(await service.erase_contact(session, editor, clock, contact))
