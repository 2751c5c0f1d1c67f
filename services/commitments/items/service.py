"""Requests and city commitments: creation, edits, lifecycle transitions, and who may see what."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments import messagebus
from services.commitments.contacts import repository as contacts_repository
from services.commitments.history.service import diff, record_change
from services.commitments.items import events, permissions, repository
from services.commitments.items.cursor import decode_cursor as _decode_cursor
from services.commitments.items.cursor import encode_cursor as _encode_cursor
from services.commitments.items.lifecycle import INITIAL_STATUS, LABELS_FR, NEVER_LATE, ItemKind, Status
from services.commitments.items.models import Item
from services.commitments.items.permissions import Action, ItemAccess, Relation
from services.commitments.items.repository import ItemDetails, ItemFilters
from services.commitments.items.schemas import ItemCreate, ItemRead, ItemUpdate, TransitionRequest
from services.commitments.items.stated_dates import check_past_date
from services.commitments.outbox.recorder import record_event
from services.commitments.partners import repository as partners_repository
from services.commitments.partners.scopes import check_parties_fit_plan
from shared.auth import Principal
from shared.clock import Clock, paris_today
from shared.events.commitments import ItemCreated, ItemStatusChanged, ItemUpdated
from shared.problems import InvalidInput, NotFound, PreconditionFailed

MAX_PAGE = 200


async def get_accessible(session: AsyncSession, principal: Principal, item_id: uuid.UUID) -> ItemAccess:
    """The item with what the caller is to it, or NotFound when it does not exist or, for a partner, does not
    concern its organisation."""
    item = await repository.get(session, item_id)
    if item is None:
        raise NotFound("Élément introuvable.")
    relation = Relation.NONE
    if principal.is_partner:
        assert principal.partner_id is not None  # a partner key (or acting contact) always names its partner
        relation = (await repository.relations_of(session, [item.id], principal.partner_id))[item.id]
    access = ItemAccess(item, principal, relation)
    access.require(Action.READ)
    return access


async def get_visible(session: AsyncSession, principal: Principal, item_id: uuid.UUID) -> Item:
    """The item, or NotFound when the caller may not see it."""
    return (await get_accessible(session, principal, item_id)).item


async def hold_for_events(session: AsyncSession, item_id: uuid.UUID) -> None:
    """Serialise a write that records events about an item without changing the item's row (a deadline added
    or moved) with the other writes on the item, before any of its events is written: the events of one item
    then reach the outbox, and the stream, in the order their transactions commit, and each transaction sees
    what the one before it did (a response deadline added while the item is being answered is met, as the
    reporting projector, applying `deadline.set` then `item.status_changed`, makes it).

    Writes that change the item's row need no more: its version check (version_id_col) makes the second of two
    concurrent ones fail, so the one that commits later began after the other had committed."""
    await repository.lock(session, item_id)


def check_version(item: Item, if_match: str | None) -> None:
    """Honour If-Match: a stale ETag is a 412, nothing is written."""
    if (
        if_match is not None
        and if_match.strip() != "*"
        and if_match.strip().strip("W/").strip('"') != str(item.version)
    ):
        raise PreconditionFailed(
            f"L'élément a changé (version actuelle {item.version}) ; rechargez-le.",
            current_version=item.version,
        )


def etag(item: Item) -> str:
    return f'"{item.version}"'


async def list_page(
    session: AsyncSession,
    principal: Principal,
    filters: ItemFilters,
    sort: str,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Item], dict[uuid.UUID, ItemDetails], str | None]:
    """One page of the items the caller may see, and the cursor of the next page."""
    descending = sort.startswith("-")
    sort_key = sort.lstrip("-")
    if principal.is_partner:
        filters.visible_partner_ids = principal.visible_partner_ids
    after = _decode_cursor(cursor, sort) if cursor else None
    rows, details = await repository.list_page(
        session, filters, sort_key, descending, after, min(limit, MAX_PAGE) + 1
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more and page:
        last = page[-1]
        value = {"created": None, "title": last.title, "updated": last.updated_at}[sort_key]
        next_cursor = _encode_cursor(sort, value, last.id)
    return page, details, next_cursor


async def to_read(
    session: AsyncSession,
    principal: Principal,
    clock: Clock,
    items: Sequence[Item],
    details: dict[uuid.UUID, ItemDetails] | None = None,
    relations: dict[uuid.UUID, Relation] | None = None,
) -> list[ItemRead]:
    """Items as the API shows them: partners, tags, next deadline and what the caller may do next (details, and
    a partner's relation to each item, are fetched unless the caller already has them)."""
    if details is None:
        details = await repository.details_of(session, [item.id for item in items])
    if relations is None and principal.is_partner and principal.partner_id is not None:
        relations = await repository.relations_of(session, [item.id for item in items], principal.partner_id)
    today = paris_today(clock)
    reads = []
    # A page holds a few (kind, status, relation): the caller's transitions are worked out once for each.
    transitions: dict[tuple[ItemKind, Status, Relation], list[Status]] = {}
    for item in items:
        kind, status = ItemKind(item.kind), Status(item.status)
        parties, due = details[item.id].parties, details[item.id].next_due_on
        lead = next((p for p, role in parties if role == "lead"), None)
        relation = relations.get(item.id, Relation.NONE) if relations else Relation.NONE
        if (allowed := transitions.get((kind, status, relation))) is None:
            allowed = permissions.allowed_transitions(principal, kind, status, relation)
            transitions[kind, status, relation] = allowed
        # Validated from a dict: pydantic-core checks the typed values in one call, about as fast as
        # constructing the model without checks.
        reads.append(
            ItemRead.model_validate(
                {
                    "id": item.id,
                    "plan_id": item.plan_id,
                    "axis_id": item.axis_id,
                    "objective_id": item.objective_id,
                    "position": item.position,
                    "reference": item.source_key,
                    "kind": kind,
                    "title": item.title,
                    "plan_text": item.plan_text,
                    "status": status,
                    "status_label": LABELS_FR[status],
                    "allowed_transitions": allowed,
                    "lead_partner_id": lead,
                    "associated_partner_ids": [p for p, role in parties if role != "lead"],
                    "owner_contact_id": item.owner_contact_id,
                    "elected_contact_id": item.elected_contact_id,
                    "budget": item.budget,
                    "tags": details[item.id].tags,
                    "needs_review": item.needs_review,
                    "review_reason": item.review_reason,
                    "review_flags": item.review_flags,
                    "sent_on": item.sent_on,
                    "letter_reference": item.letter_reference,
                    "progress_percent": item.progress_percent,
                    "next_due_on": due,
                    "overdue": due is not None and due < today and status not in NEVER_LATE,
                    "version": item.version,
                    "created_at": item.created_at,
                    "updated_at": item.updated_at,
                }
            )
        )
    return reads


async def _check_references(
    session: AsyncSession,
    kind: ItemKind,
    lead: uuid.UUID | None,
    associated: Sequence[uuid.UUID],
    owner: uuid.UUID | None,
    elected: uuid.UUID | None,
) -> None:
    if kind is ItemKind.REQUEST and lead is None:
        raise InvalidInput("Une demande doit désigner le partenaire sollicité (lead_partner_id).")
    wanted = {*associated, *([lead] if lead else [])}
    unknown = wanted - await partners_repository.existing_ids(session, wanted)
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise InvalidInput(f"lead_partner_id/associated_partner_ids : partenaires inconnus : {names}.")
    for field, contact_id in (("owner_contact_id", owner), ("elected_contact_id", elected)):
        if contact_id is not None and await contacts_repository.get(session, contact_id) is None:
            raise InvalidInput(f"{field} ne désigne aucun contact.")


async def create_item(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    data: ItemCreate,
    *,
    source_key: str | None = None,
    needs_review: bool = False,
    review_reason: str | None = None,
    review_flags: Sequence[dict[str, str]] = (),
) -> Item:
    """Create a request (to partners) or a city commitment under an objective."""
    objective = await repository.get_objective(session, data.objective_id)
    if objective is None:
        raise InvalidInput("objective_id ne désigne aucun objectif.")
    await _check_references(
        session,
        data.kind,
        data.lead_partner_id,
        data.associated_partner_ids,
        data.owner_contact_id,
        data.elected_contact_id,
    )
    await check_parties_fit_plan(
        session, objective.plan_id, [data.lead_partner_id, *data.associated_partner_ids]
    )
    now = clock.now()
    item = Item(
        plan_id=objective.plan_id,
        axis_id=objective.axis_id,
        objective_id=objective.id,
        position=await repository.next_position(session, objective.id),
        source_key=source_key,
        kind=data.kind.value,
        title=data.title,
        plan_text=data.plan_text,
        status=INITIAL_STATUS[data.kind].value,
        owner_contact_id=data.owner_contact_id,
        elected_contact_id=data.elected_contact_id,
        budget=data.budget,
        needs_review=needs_review,
        review_reason=review_reason,
        review_flags=list(review_flags),
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    await session.flush()
    await repository.replace_parties(session, item.id, data.lead_partner_id, data.associated_partner_ids)
    await repository.replace_tags(session, item.id, data.tags)
    record_change(
        session,
        actor,
        clock,
        entity_type="item",
        entity_id=item.id,
        item_id=item.id,
        action="created",
        changes=data.model_dump(mode="json"),
    )
    record_event(
        session,
        ItemCreated(
            item_id=item.id,
            plan_id=item.plan_id,
            objective_id=item.objective_id,
            kind=data.kind.value,
            title=item.title,
            status=item.status,
            lead_partner_id=data.lead_partner_id,
            associated_partner_ids=[
                p for p in dict.fromkeys(data.associated_partner_ids) if p != data.lead_partner_id
            ],
            tags=list(dict.fromkeys(data.tags)),
            needs_review=needs_review,
            owner_contact_id=item.owner_contact_id,
        ),
        actor,
        clock,
    )
    return item


async def update_item(
    session: AsyncSession, actor: Principal, clock: Clock, item: Item, data: ItemUpdate
) -> Item:
    """Edit an item's fields (not its status: that goes through transitions)."""
    changes = data.model_dump(exclude_unset=True, mode="json")
    for required in ("title", "plan_text", "needs_review"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} ne peut pas être null.")
    parties = (await repository.parties_of(session, [item.id]))[item.id]
    tags = (await repository.tags_of(session, [item.id]))[item.id]
    lead = next((p for p, role in parties if role == "lead"), None)
    associated = [p for p, role in parties if role != "lead"]
    before = {
        "title": item.title,
        "plan_text": item.plan_text,
        "owner_contact_id": item.owner_contact_id,
        "elected_contact_id": item.elected_contact_id,
        "budget": item.budget,
        "needs_review": item.needs_review,
        "review_reason": item.review_reason,
        "lead_partner_id": lead,
        "associated_partner_ids": associated,
        "tags": tags,
    }
    new_lead = data.lead_partner_id if "lead_partner_id" in changes else lead
    new_associated = data.associated_partner_ids if data.associated_partner_ids is not None else associated
    new_owner = data.owner_contact_id if "owner_contact_id" in changes else item.owner_contact_id
    new_elected = data.elected_contact_id if "elected_contact_id" in changes else item.elected_contact_id
    await _check_references(session, ItemKind(item.kind), new_lead, new_associated, new_owner, new_elected)
    await check_parties_fit_plan(session, item.plan_id, [new_lead, *new_associated])
    for field in (
        "title",
        "plan_text",
        "owner_contact_id",
        "elected_contact_id",
        "budget",
        "needs_review",
        "review_reason",
    ):
        if field in changes:
            setattr(item, field, getattr(data, field))
    if "lead_partner_id" in changes or data.associated_partner_ids is not None:
        await repository.replace_parties(session, item.id, new_lead, new_associated)
    if data.tags is not None:
        await repository.replace_tags(session, item.id, data.tags)
    after = {**before, **{k: getattr(data, k) for k in changes}}
    changed = diff(before, after)
    if changed:
        item.updated_at = clock.now()
        await session.flush()
        record_change(
            session,
            actor,
            clock,
            entity_type="item",
            entity_id=item.id,
            item_id=item.id,
            action="updated",
            changes=changed,
        )
        if "lead_partner_id" in changed:
            await messagebus.publish(session, clock, events.LeadChanged(item.id))
        record_event(
            session,
            ItemUpdated(
                item_id=item.id,
                changed=sorted(changed),
                title=item.title,
                lead_partner_id=new_lead,
                associated_partner_ids=[p for p in dict.fromkeys(new_associated) if p != new_lead],
                tags=list(dict.fromkeys(data.tags if data.tags is not None else tags)),
                budget=item.budget,
                needs_review=item.needs_review,
                owner_contact_id=item.owner_contact_id,
            ),
            actor,
            clock,
        )
    return item


async def transition(
    session: AsyncSession,
    access: ItemAccess,
    clock: Clock,
    request: TransitionRequest,
    if_match: str | None = None,
) -> Item:
    """Move an item along its lifecycle: a transition that does not exist from here is a 409 naming the caller's,
    one the caller may not make a 403, a stale If-Match a 412; the date stated must have passed."""
    item, actor = access.item, access.principal
    kind, current, target = ItemKind(item.kind), Status(item.status), request.to
    access.require_transition(target)
    check_version(item, if_match)
    on = request.on or paris_today(clock)
    if request.on is not None:  # a date the caller states (today, the default, needs no check)
        sent_on = item.sent_on if kind is ItemKind.REQUEST and target is not Status.SENT else None
        # Nothing is acknowledged, answered, delivered or given up before the request went out.
        check_past_date("on", on, clock, not_before=sent_on, not_before_what="l'envoi de la demande")
    if target is Status.SENT:
        if not request.letter_reference:
            raise InvalidInput("L'envoi d'une demande exige la référence du courrier (letter_reference).")
        item.sent_on, item.letter_reference = on, request.letter_reference
    if target in (Status.VERIFIED, Status.DONE):
        item.progress_percent = 100
    item.status, item.status_changed_on, item.updated_at = target.value, on, clock.now()
    await session.flush()
    record_change(
        session,
        actor,
        clock,
        entity_type="item",
        entity_id=item.id,
        item_id=item.id,
        action="transition",
        changes={
            "status": [current.value, target.value],
            "on": on.isoformat(),
            "letter_reference": request.letter_reference,
        },
    )
    record_event(
        session,
        ItemStatusChanged(item_id=item.id, from_status=current.value, to_status=target.value, on=on),
        actor,
        clock,
    )
    # Its deadlines met or reopened, its reminders stopped or restarted, its comment journaled: see
    # subscriptions.py.
    await messagebus.publish(
        session, clock, events.StatusChanged(item, actor, current.value, on, request.comment)
    )
    return item


async def mark_unanswered(
    session: AsyncSession, actor: Principal, clock: Clock, only: Collection[uuid.UUID] | None = None
) -> list[Item]:
    """Requests past their response deadline with no answer become « sans réponse » (never « acceptée »)."""
    items = await repository.unanswered(session, paris_today(clock), only)
    for item in items:
        await transition(
            session, ItemAccess(item, actor, Relation.NONE), clock, TransitionRequest(to=Status.NO_ANSWER)
        )
    return items
