"""The journal of an item: responses, progress updates and notes, each signed by the caller who wrote it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments import messagebus
from services.commitments.history.service import record_change
from services.commitments.items import events as item_events
from services.commitments.items.lifecycle import Status
from services.commitments.items.models import Item
from services.commitments.items.permissions import ItemAccess, journal_action
from services.commitments.items.stated_dates import check_past_date
from services.commitments.journal import repository
from services.commitments.journal.models import JournalEntry
from services.commitments.journal.schemas import JournalAuthor, JournalEntryCreate, JournalEntryRead
from services.commitments.outbox.recorder import record_event
from shared.auth import Principal
from shared.clock import Clock, paris_today
from shared.events.commitments import JournalEntryAdded


async def add_entry(
    session: AsyncSession, access: ItemAccess, clock: Clock, data: JournalEntryCreate
) -> JournalEntry:
    """Record a response, a progress update or a note, when the caller may (its kind, and whether it sets a
    percentage, decide which action it is) and its date holds: not in the future, an answer not before sending."""
    access.require(journal_action(data.kind, data.progress_percent))
    item = access.item
    on = data.occurred_on or paris_today(clock)
    if data.occurred_on is not None:  # a date the caller states (today, the default, needs no check)
        answer_after = item.sent_on if data.kind == "response" else None
        check_past_date(
            "occurred_on", on, clock, not_before=answer_after, not_before_what="l'envoi de la demande"
        )
    return await record_entry(
        session,
        access.principal,
        clock,
        item,
        kind=data.kind,
        text=data.text,
        on=on,
        progress_percent=data.progress_percent,
        evidence_url=data.evidence_url,
    )


async def record_entry(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    item: Item,
    *,
    kind: str,
    text: str,
    on: date,
    progress_percent: int | None = None,
    evidence_url: str | None = None,
) -> JournalEntry:
    """Write an entry the caller was already allowed to (an API call above, or a transition's comment); progress
    rolls up from here."""
    who = (actor.actor.kind, actor.actor.id)
    author = (await _resolve(session, [who])).get(who)
    entry = JournalEntry(
        item_id=item.id,
        kind=kind,
        text=text,
        occurred_on=on,
        progress_percent=progress_percent,
        evidence_url=evidence_url,
        author_name=author.name if author else None,
        actor_kind=actor.actor.kind,
        actor_id=actor.actor.id,
        created_at=clock.now(),
    )
    session.add(entry)
    await session.flush()
    if progress_percent is not None:
        item.progress_percent = progress_percent
        item.updated_at = clock.now()
    record_change(
        session,
        actor,
        clock,
        entity_type="journal_entry",
        entity_id=entry.id,
        item_id=item.id,
        action="created",
        changes={
            "kind": kind,
            "text": text,
            "occurred_on": on,
            "progress_percent": progress_percent,
            "evidence_url": evidence_url,
        },
    )
    record_event(
        session,
        JournalEntryAdded(
            entry_id=entry.id, item_id=item.id, kind=kind, progress_percent=progress_percent, on=on
        ),
        actor,
        clock,
    )
    if kind in ("response", "progress"):  # the partner (or staff recording its answer) responded
        await messagebus.publish(session, clock, item_events.PartnerResponded(item.id))
    return entry


async def on_item_status_changed(
    session: AsyncSession, clock: Clock, event: item_events.StatusChanged
) -> None:
    """A transition's comment, part of the move the caller was allowed: journaled as its answer or
    progress."""
    if not event.comment:
        return
    answers = (Status.ACKNOWLEDGED, Status.ACCEPTED, Status.PARTIALLY_ACCEPTED, Status.DECLINED)
    kind = "response" if Status(event.item.status) in answers else "progress"
    await record_entry(session, event.actor, clock, event.item, kind=kind, text=event.comment, on=event.on)


async def list_entries(session: AsyncSession, principal: Principal, item: Item) -> list[JournalEntryRead]:
    """The item's entries in date order, each with its author as this caller may see it."""
    return await to_read(session, principal, await repository.list_for_item(session, item.id))


async def to_read(
    session: AsyncSession, principal: Principal, entries: Sequence[JournalEntry]
) -> list[JournalEntryRead]:
    """Entries as the API shows them to this caller, authors resolved."""
    authors = await _resolve(session, [(e.actor_kind, e.actor_id) for e in entries])
    reads = []
    for entry in entries:
        author = _as_seen_by(
            principal,
            authors.get((entry.actor_kind, entry.actor_id))
            or JournalAuthor(
                kind=_kind(entry.actor_kind), id=_uuid(entry.actor_id), role=None, name=None, partner_id=None
            ),
        )
        reads.append(
            JournalEntryRead(
                id=entry.id,
                item_id=entry.item_id,
                kind=entry.kind,
                text=entry.text,
                occurred_on=entry.occurred_on,
                progress_percent=entry.progress_percent,
                evidence_url=entry.evidence_url,
                author_name=author.name,
                actor_kind=entry.actor_kind,
                author=author,
                created_at=entry.created_at,
            )
        )
    return reads


def _kind(actor_kind: str) -> str:
    return actor_kind if actor_kind in ("api_key", "contact") else "system"


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def _resolve(
    session: AsyncSession, actors: Sequence[tuple[str, str | None]]
) -> dict[tuple[str, str | None], JournalAuthor]:
    """Each (actor kind, actor id) as an author: the key's name and role, or the contact's name and partner, as
    they are now (an erased contact shows as erased)."""
    key_ids = {i for kind, value in actors if kind == "api_key" and (i := _uuid(value))}
    contact_ids = {i for kind, value in actors if kind == "contact" and (i := _uuid(value))}
    keys = await repository.keys_by_id(session, key_ids)
    contacts = await repository.contacts_by_id(session, contact_ids)
    authors: dict[tuple[str, str | None], JournalAuthor] = {}
    for kind, value in set(actors):
        actor_id = _uuid(value)
        if kind == "api_key" and actor_id in keys:
            key = keys[actor_id]
            authors[(kind, value)] = JournalAuthor(
                kind="api_key", id=key.id, role=key.role, name=key.name, partner_id=key.partner_id
            )
        elif kind == "contact" and actor_id in contacts:
            contact = contacts[actor_id]
            name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
            authors[(kind, value)] = JournalAuthor(
                kind="contact", id=contact.id, role="partner", name=name, partner_id=contact.partner_id
            )
        elif kind not in ("api_key", "contact"):
            authors[(kind, value)] = JournalAuthor(
                kind="system", id=None, role=None, name=None, partner_id=None
            )
    return authors


def _as_seen_by(principal: Principal, author: JournalAuthor) -> JournalAuthor:
    """A partner sees who wrote by name only within its own organisation; other authors by kind and role."""
    if not principal.is_partner or (
        author.partner_id is not None and author.partner_id in principal.visible_partner_ids
    ):
        return author
    return JournalAuthor(kind=author.kind, id=None, role=author.role, name=None, partner_id=None)
