from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import TypeAdapter

from services.commitments.dependencies import ClockDep, PrincipalDep, SessionDep
from services.commitments.history.schemas import AuditEntryRead
from services.commitments.history.service import item_history
from services.commitments.items import permissions, service
from services.commitments.items.lifecycle import ItemKind, Status
from services.commitments.items.models import Item
from services.commitments.items.permissions import Action, ItemAccess, Relation
from services.commitments.items.repository import ItemFilters
from services.commitments.items.schemas import ItemCreate, ItemPage, ItemRead, ItemUpdate, TransitionRequest
from shared.auth import Principal
from shared.clock import paris_today
from shared.input_types import BoundedDate, QueryText

router = APIRouter(prefix="/v1/items", tags=["Items"])

IfMatch = Annotated[str | None, Header(description='ETag reçu (`"3"`) : 412 si l\'élément a changé depuis.')]
Sort = Literal["created", "-created", "title", "-title", "updated", "-updated"]
_PAGE_JSON = TypeAdapter(ItemPage)  # bytes straight from pydantic's serializer


async def item_access(item_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ItemAccess:
    return await service.get_accessible(session, principal, item_id)


# The item and what the caller is to it; 404 when the caller may not see it, before any other check.
ItemAccessDep = Annotated[ItemAccess, Depends(item_access)]


async def valid_item(access: ItemAccessDep) -> Item:
    return access.item


ItemDep = Annotated[Item, Depends(valid_item)]


def may_on_item(action: Action) -> Callable[..., Awaitable[ItemAccess]]:
    """A dependency: the item, when the caller may take `action` on it (docs/permissions.md)."""

    async def check(access: ItemAccessDep) -> ItemAccess:
        access.require(action)
        return access

    return check


def may_without_item(action: Action) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, when it may take `action`, which concerns no existing item (creating one)."""

    async def check(principal: PrincipalDep) -> Principal:
        permissions.require(principal, action)
        return principal

    return check


EditableItemDep = Annotated[ItemAccess, Depends(may_on_item(Action.EDIT))]


async def _item_editor(access: EditableItemDep) -> Principal:
    return access.principal


# For routers elsewhere that edit what hangs off an item (its reminder rules): the caller, once allowed.
ItemEditorDep = Annotated[Principal, Depends(_item_editor)]


async def _one(session: SessionDep, access: ItemAccess, clock: ClockDep, response: Response) -> ItemRead:
    response.headers["ETag"] = service.etag(access.item)
    return (
        await service.to_read(
            session, access.principal, clock, [access.item], relations={access.item.id: access.relation}
        )
    )[0]


@router.get("", response_model=ItemPage)
async def list_items(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    clock: ClockDep,
    partner_id: Annotated[
        uuid.UUID | None, Query(description="Éléments concernant ce partenaire (ou ses groupes).")
    ] = None,
    status: Annotated[list[Status] | None, Query()] = None,
    kind: ItemKind | None = None,
    plan_id: uuid.UUID | None = None,
    axis_id: uuid.UUID | None = None,
    objective_id: uuid.UUID | None = None,
    overdue: Annotated[bool | None, Query(description="Une échéance ouverte est dépassée.")] = None,
    due_before: Annotated[
        BoundedDate | None, Query(description="Échéance ouverte au plus tard ce jour.")
    ] = None,
    due_after: Annotated[
        BoundedDate | None, Query(description="Échéance ouverte au plus tôt ce jour.")
    ] = None,
    q: Annotated[
        QueryText | None, Query(description="Texte cherché dans le titre et le texte du plan.")
    ] = None,
    tag: Annotated[QueryText | None, Query()] = None,
    needs_review: bool | None = None,
    sort: Sort = "created",
    cursor: Annotated[
        str | None, Query(description="Le `next_cursor` de la page précédente (sinon 400).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
) -> Response:
    """List items with filters, a stable cursor and a sort order; a partner key sees its own items only."""
    partner_filter = None
    if partner_id is not None:
        partner_filter = await request.app.state.group_cache.partner_and_groups(session, partner_id)
    today = paris_today(clock)
    filters = ItemFilters(
        partner_ids=partner_filter,
        statuses=[s.value for s in status or []],
        kind=kind.value if kind else None,
        plan_id=plan_id,
        axis_id=axis_id,
        objective_id=objective_id,
        overdue_as_of=today if overdue else None,
        not_overdue_as_of=today if overdue is False else None,
        due_before=due_before,
        due_after=due_after,
        text=q or None,
        tag=tag,
        needs_review=needs_review,
    )
    page, details, next_cursor = await service.list_page(session, principal, filters, sort, cursor, limit)
    reads = await service.to_read(session, principal, clock, page, details)
    # Serialised here rather than by FastAPI: it would dump these models to dicts, validate them again
    # against ItemPage, and render them with json.dumps, three passes for what the service already typed.
    # response_model still documents the schema.
    return Response(
        _PAGE_JSON.dump_json(ItemPage.model_construct(items=reads, next_cursor=next_cursor)),
        media_type="application/json",
    )


@router.post("", status_code=201, response_model=ItemRead)
async def create_item(
    body: ItemCreate,
    session: SessionDep,
    clock: ClockDep,
    editor: Annotated[Principal, Depends(may_without_item(Action.CREATE))],
    response: Response,
) -> ItemRead:
    """Create a request to partners or a city commitment."""
    item = await service.create_item(session, editor, clock, body)
    return await _one(session, ItemAccess(item, editor, Relation.NONE), clock, response)


@router.get("/{item_id}", response_model=ItemRead)
async def get_item(
    access: ItemAccessDep, session: SessionDep, clock: ClockDep, response: Response
) -> ItemRead:
    """One item; its ETag is the version to send back in If-Match; `allowed_transitions` are the caller's own."""
    return await _one(session, access, clock, response)


@router.patch("/{item_id}", response_model=ItemRead)
async def update_item(
    body: ItemUpdate,
    access: EditableItemDep,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    if_match: IfMatch = None,
) -> ItemRead:
    """Edit an item (city staff); a stale If-Match is a 412."""
    service.check_version(access.item, if_match)
    await service.update_item(session, access.principal, clock, access.item, body)
    return await _one(session, access, clock, response)


@router.post("/{item_id}/transitions", response_model=ItemRead)
async def transition_item(
    body: TransitionRequest,
    access: ItemAccessDep,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    if_match: IfMatch = None,
) -> ItemRead:
    """Move the item along its lifecycle: 409 naming the caller's transitions when this one does not exist from
    the current status, 403 when it exists but is not the caller's to make (docs/permissions.md)."""
    await service.transition(session, access, clock, body, if_match)
    return await _one(session, access, clock, response)


@router.get("/{item_id}/history", response_model=list[AuditEntryRead])
async def get_item_history(item: ItemDep, session: SessionDep) -> list[AuditEntryRead]:
    """Every change made to the item, its deadlines and its journal: who, when, what."""
    return [AuditEntryRead.model_validate(entry) for entry in await item_history(session, item.id)]
