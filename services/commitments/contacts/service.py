"""Contacts of partners (and city staff): personal data that can be exported and erased on request."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.contacts import repository
from services.commitments.contacts.models import Contact
from services.commitments.contacts.schemas import ContactCreate, ContactExport, ContactRead, ContactUpdate
from services.commitments.history import repository as history_repository
from services.commitments.history.service import diff, record_change, redact_entity
from services.commitments.outbox.recorder import record_event
from services.commitments.partners.models import Partner
from services.commitments.partners.service import visible_to
from shared.auth import Principal
from shared.clock import Clock, paris_today
from shared.events.commitments import ContactCreated, ContactErased, ContactUpdated
from shared.problems import Conflict, InvalidInput, NotFound

ERASED_NAME = "Contact effacé"


def _check_dates(contact: Contact) -> None:
    if contact.active_from and contact.active_to and contact.active_to < contact.active_from:
        raise InvalidInput("active_to précède active_from.")


async def get_visible(session: AsyncSession, principal: Principal, contact_id: uuid.UUID) -> Contact:
    """The contact, or NotFound when it does not exist or belongs to another partner."""
    contact = await repository.get(session, contact_id)
    if contact is None or not visible_to(principal, contact.partner_id):
        raise NotFound("Contact introuvable.")
    return contact


async def list_for_partner(session: AsyncSession, partner: Partner) -> Sequence[Contact]:
    """A partner's contacts, erased ones included (anonymised)."""
    return await repository.list_for_partner(session, partner.id)


def _is_active(contact: Contact, clock: Clock) -> bool:
    today = paris_today(clock)
    return (
        contact.erased_at is None
        and (contact.active_from is None or contact.active_from <= today)
        and (contact.active_to is None or today <= contact.active_to)
    )


async def create_contact(
    session: AsyncSession, actor: Principal, clock: Clock, partner: Partner, data: ContactCreate
) -> Contact:
    """Attach a person to a partner."""
    now = clock.now()
    contact = Contact(
        partner_id=partner.id,
        created_at=now,
        updated_at=now,
        erased_at=None,
        **{
            **data.model_dump(),
            "role": data.role.value,
            "civility": data.civility.value if data.civility else None,
        },
    )
    _check_dates(contact)
    session.add(contact)
    await session.flush()
    record_change(
        session,
        actor,
        clock,
        entity_type="contact",
        entity_id=contact.id,
        action="created",
        changes=data.model_dump(mode="json"),
    )
    record_event(
        session, ContactCreated(contact_id=contact.id, partner_id=partner.id, role=contact.role), actor, clock
    )
    return contact


async def update_contact(
    session: AsyncSession, actor: Principal, clock: Clock, contact: Contact, data: ContactUpdate
) -> Contact:
    """Change a contact's details, role or period of activity."""
    if contact.erased_at is not None:
        raise Conflict("Ce contact a été effacé ; créez-en un nouveau.")
    changes = data.model_dump(exclude_unset=True, mode="json")
    for required in ("last_name", "role"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} ne peut pas être null.")
    before = ContactRead.model_validate(contact).model_dump(mode="json")
    for field in changes:
        value = getattr(data, field)
        # The ORM takes dates and plain strings; the JSON dump above is only for the audit diff.
        setattr(contact, field, value.value if isinstance(value, Enum) else value)
    _check_dates(contact)
    changed = diff(before, changes)
    if changed:
        contact.updated_at = clock.now()
        record_change(
            session,
            actor,
            clock,
            entity_type="contact",
            entity_id=contact.id,
            action="updated",
            changes=changed,
        )
        record_event(
            session,
            ContactUpdated(
                contact_id=contact.id,
                partner_id=contact.partner_id,
                role=contact.role,
                active=_is_active(contact, clock),
            ),
            actor,
            clock,
        )
    return contact


async def export_contact(session: AsyncSession, contact: Contact) -> ContactExport:
    """Everything this service holds about the person."""
    history = await history_repository.list_for_entity(session, "contact", contact.id)
    entries = await repository.journal_entries_by(session, contact.id)
    return ContactExport(
        contact=ContactRead.model_validate(contact),
        history=[{"at": h.at.isoformat(), "action": h.action, "changes": h.changes} for h in history],
        journal_entries=[
            {
                "id": str(e.id),
                "item_id": str(e.item_id),
                "kind": e.kind,
                "text": e.text,
                "occurred_on": e.occurred_on.isoformat(),
                "author_name": e.author_name,
            }
            for e in entries
        ],
    )


async def erase_contact(session: AsyncSession, actor: Principal, clock: Clock, contact: Contact) -> Contact:
    """Anonymise a person on request: name, email, phone and title go, and so do their traces in the
    audit trail and the author names on their journal entries."""
    if contact.erased_at is not None:
        return contact
    now = clock.now()
    contact.civility = contact.first_name = contact.title = contact.email = contact.phone = None
    contact.last_name = ERASED_NAME
    contact.erased_at = contact.updated_at = now
    if contact.active_to is None or contact.active_to > paris_today(clock):
        contact.active_to = paris_today(clock)
    for entry in await repository.journal_entries_by(session, contact.id):
        entry.author_name = None
    await redact_entity(session, "contact", contact.id)
    record_change(
        session, actor, clock, entity_type="contact", entity_id=contact.id, action="erased", changes={}
    )
    record_event(session, ContactErased(contact_id=contact.id, partner_id=contact.partner_id), actor, clock)
    return contact
