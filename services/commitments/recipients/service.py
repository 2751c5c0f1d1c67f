"""Who to write to about an item — resolved when a reminder is sent, never carried in events — and the
contact a partner designates for one item ("pas pour moi" → a colleague)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.contacts import service as contacts_service
from services.commitments.contacts.models import Contact
from services.commitments.contacts.schemas import ContactCreate, ContactRole
from services.commitments.deadlines.models import Deadline
from services.commitments.history.service import record_change
from services.commitments.items import repository as items_repository
from services.commitments.items.lifecycle import deadline_running
from services.commitments.items.models import Item, ItemContact
from services.commitments.items.permissions import ROLE_RIGHTS, Action
from services.commitments.outbox.recorder import record_event
from services.commitments.partners import repository as partners_repository
from services.commitments.partners.models import Partner
from services.commitments.recipients import repository
from services.commitments.recipients.schemas import (
    Audience,
    DesignatedContactCreate,
    Recipient,
    ReminderContext,
    ReminderDeadline,
    ReminderItem,
)
from shared.auth import Principal
from shared.clock import Clock, paris_today
from shared.events.commitments import ItemContactAssigned
from shared.problems import InvalidInput, NotFound

# Who may read the people behind reminders (names, emails), from the permission matrix: the city's staff and the
# notifications service, not the intranet's readers nor partners.
RECIPIENT_READERS = tuple(role for role, rights in ROLE_RIGHTS.items() if Action.READ_RECIPIENTS in rights)


async def reminder_context(
    session: AsyncSession,
    clock: Clock,
    item: Item,
    deadline_id: uuid.UUID | None,
    audiences: Sequence[Audience],
) -> ReminderContext:
    """The item, the deadline and the people behind each requested audience, as of today: the lead
    partner's (or, for a group, each member's) liaison and deputy — or the contact designated for this item
    instead —, their hierarchy, the city owner, the elected official (the item's, else the plan's)."""
    frame = await repository.item_frame(session, item.id)
    assert frame is not None  # an item always sits in an objective of an axis of a plan
    plan, axis, objective = frame
    deadline = None
    if deadline_id is not None:
        deadline = await repository.get_deadline(session, deadline_id)
        if deadline is None or deadline.item_id != item.id:
            raise NotFound("Échéance introuvable pour cet élément.")
    lead = await repository.lead_partner(session, item.id)
    people = await _people_by_audience(
        session, item, lead, plan.elected_contact_id, audiences, paris_today(clock)
    )
    [recipients] = (await _recipients(session, people, [audiences])).values()
    return ReminderContext(
        item=ReminderItem(
            id=item.id,
            title=item.title,
            plan_text=item.plan_text,
            kind=item.kind,
            status=item.status,
            letter_reference=item.letter_reference,
            sent_on=item.sent_on,
            plan_id=plan.id,
            plan_title=plan.title,
            commune=plan.commune,
            axis_title=axis.title,
            objective_title=objective.title,
            lead_partner_id=lead.id if lead else None,
            lead_partner_name=lead.name if lead else None,
            owner_contact_id=item.owner_contact_id,
        ),
        deadline=None
        if deadline is None
        else ReminderDeadline(
            id=deadline.id,
            kind=deadline.kind,
            label=deadline.label,
            due_on=deadline.due_on,
            original_wording=deadline.original_wording,
            version=deadline.version,
            met_on=deadline.met_on,
            reminders_active=_reminded(deadline, item),
        ),
        recipients=recipients,
    )


async def reminder_recipients(
    session: AsyncSession, clock: Clock, item: Item, audience_sets: Collection[Sequence[Audience]]
) -> dict[tuple[Audience, ...], list[Recipient]]:
    """For each set of audiences, the recipients `reminder_context` would list for it today; the people are
    resolved once for all the sets (the reminders of one item differ only by their escalation's audience)."""
    plan = await repository.get_plan(session, item.plan_id)
    assert plan is not None
    lead = await repository.lead_partner(session, item.id)
    every = [audience for audiences in audience_sets for audience in audiences]
    people = await _people_by_audience(
        session, item, lead, plan.elected_contact_id, every, paris_today(clock)
    )
    return await _recipients(session, people, audience_sets)


async def _people_by_audience(
    session: AsyncSession,
    item: Item,
    lead: Partner | None,
    plan_elected_contact_id: uuid.UUID | None,
    audiences: Sequence[Audience],
    today: date,
) -> dict[Audience, list[Contact]]:
    """The reachable people behind each audience: the lead partner's (or, for a group, each member's) liaison
    and deputy — or the contact designated for this item instead —, their hierarchy, the city owner, the
    elected official (the item's, else the plan's)."""
    partners = (
        []
        if lead is None
        else list(await repository.members_of(session, lead.id))
        if lead.is_group
        else [lead]
    )
    partner_ids = [partner.id for partner in partners]
    people: dict[Audience, list[Contact]] = {}
    for audience in dict.fromkeys(audiences):
        if audience in (Audience.LIAISON, Audience.DEPUTY):
            people[audience] = await _partner_correspondents(session, item.id, partner_ids, audience, today)
        elif audience is Audience.HIERARCHY:
            people[audience] = list(
                await repository.reachable_contacts(
                    session, partner_ids, [ContactRole.HIERARCHY.value], today
                )
            )
        elif audience is Audience.CITY_OWNER:
            people[audience] = _one(await repository.reachable_contact(session, item.owner_contact_id, today))
        else:
            elected_id = item.elected_contact_id or plan_elected_contact_id
            people[audience] = _one(await repository.reachable_contact(session, elected_id, today))
    return people


async def _recipients(
    session: AsyncSession,
    people: dict[Audience, list[Contact]],
    audience_sets: Collection[Sequence[Audience]],
) -> dict[tuple[Audience, ...], list[Recipient]]:
    """Each set's recipients: its audiences in the requested order, each person once (under the first
    audience that names them)."""
    names = await repository.partner_names(
        session, list({contact.partner_id for contacts in people.values() for contact in contacts})
    )
    found: dict[tuple[Audience, ...], list[Recipient]] = {}
    for audiences in audience_sets:
        recipients: dict[uuid.UUID, Recipient] = {}
        for audience in dict.fromkeys(audiences):
            for contact in people[audience]:
                assert contact.email is not None  # reachable contacts have one
                recipients.setdefault(
                    contact.id,
                    Recipient(
                        contact_id=contact.id,
                        partner_id=contact.partner_id,
                        partner_name=names[contact.partner_id],
                        audience=audience,
                        civility=contact.civility,
                        first_name=contact.first_name,
                        last_name=contact.last_name,
                        title=contact.title,
                        email=contact.email,
                    ),
                )
        found[tuple(audiences)] = list(recipients.values())
    return found


def _reminded(deadline: Deadline, item: Item) -> bool:
    """The scanner's own rule, so that the notifications service drops what the scanner would not send now."""
    return deadline_running(deadline.kind, deadline.met_on, item.status)


def _one(contact: Contact | None) -> list[Contact]:
    return [] if contact is None else [contact]


async def _partner_correspondents(
    session: AsyncSession,
    item_id: uuid.UUID,
    partner_ids: Sequence[uuid.UUID],
    audience: Audience,
    today: date,
) -> list[Contact]:
    """Each partner's liaisons (or deputies); where a contact is designated for this item and still
    reachable, that person alone stands for the partner (listed as its liaison)."""
    designated = await repository.designated_contacts(session, item_id)
    usual: list[uuid.UUID] = []
    contacts: list[Contact] = []
    for partner_id in partner_ids:
        person = await repository.reachable_contact(session, designated.get(partner_id), today)
        if person is None:
            usual.append(partner_id)
        elif audience is Audience.LIAISON:
            contacts.append(person)
    contacts += await repository.reachable_contacts(session, usual, [audience.value], today)
    return contacts


async def designate_contact(
    session: AsyncSession, actor: Principal, clock: Clock, item: Item, data: DesignatedContactCreate
) -> tuple[ItemContact, Contact]:
    """Make a person the partner's contact for this item: an existing contact of the partner, or a colleague
    added to its contacts. Reminders about the item then go to them instead of the usual liaison."""
    partner_id = actor.partner_id if actor.is_partner else data.partner_id
    if partner_id is None:
        raise InvalidInput("partner_id : indiquez pour quel partenaire ce contact répond.")
    if actor.is_partner and data.partner_id is not None and data.partner_id not in actor.visible_partner_ids:
        raise NotFound("Partenaire introuvable.")
    partner = await partners_repository.get(session, partner_id)
    if partner is None:
        raise NotFound("Partenaire introuvable.")
    parties = (await items_repository.parties_of(session, [item.id]))[item.id]
    concerned = [False] + [
        await repository.is_member_or_self(session, partner.id, party) for party, _ in parties
    ]
    if not any(concerned):
        raise InvalidInput("Ce partenaire n'est pas concerné par cet élément.")
    if data.contact_id is not None:
        contact = await repository.reachable_contact(session, data.contact_id, paris_today(clock))
        if contact is None or contact.partner_id != partner.id:
            raise InvalidInput("contact_id ne désigne aucun contact actif de ce partenaire.")
    else:
        contact = await contacts_service.create_contact(
            session,
            actor,
            clock,
            partner,
            ContactCreate(
                civility=data.civility,
                first_name=data.first_name,
                last_name=data.last_name or "",
                title=data.title,
                email=data.email,
                role=ContactRole.LIAISON,
            ),
        )
    designation = await repository.designation(session, item.id, partner.id)
    previous = designation.contact_id if designation else None
    if designation is None:
        designation = ItemContact(
            item_id=item.id, partner_id=partner.id, contact_id=contact.id, assigned_at=clock.now()
        )
        session.add(designation)
    else:
        designation.contact_id, designation.assigned_at = contact.id, clock.now()
    await session.flush()
    record_change(
        session,
        actor,
        clock,
        entity_type="item",
        entity_id=item.id,
        item_id=item.id,
        action="contact_designated",
        changes={"partner_id": partner.id, "contact_id": contact.id, "previous_contact_id": previous},
    )
    record_event(
        session,
        ItemContactAssigned(
            item_id=item.id, partner_id=partner.id, contact_id=contact.id, previous_contact_id=previous
        ),
        actor,
        clock,
    )
    return designation, contact
