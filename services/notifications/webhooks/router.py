from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response

from services.notifications.dependencies import ClockDep, EditorDep, SessionDep, SettingsDep, require_roles
from services.notifications.webhooks import service
from services.notifications.webhooks.models import WebhookSubscription
from services.notifications.webhooks.schemas import (
    DeliveryStatus,
    WebhookCreate,
    WebhookDeliveryPage,
    WebhookDeliveryRead,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from shared.auth import Principal, Role
from shared.events.envelope import Actor

router = APIRouter(prefix="/v1/webhooks", tags=["Webhooks"])

# The intranet's read-only key sees the subscriptions (never a secret); a partner key has no business here.
ViewerDep = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.CITY, Role.READER))]


def _problem(status: int, code: str, title: str, detail: str) -> dict[str, Any]:
    return {
        "content": {
            "application/problem+json": {
                "example": {
                    "type": f"urn:engagements:problem:{code}",
                    "title": title,
                    "status": status,
                    "detail": detail,
                    "code": code,
                }
            }
        }
    }


_NOT_FOUND = _problem(404, "not-found", "Introuvable", "Abonnement webhook introuvable.")
_FORBIDDEN = _problem(403, "forbidden", "Action non autorisée", "Action réservée aux rôles : admin, city.")
_REFUSED = _problem(
    422,
    "unsafe-webhook-target",
    "Adresse de webhook refusée",
    "Cible refusée (protection SSRF) : l'hôte « intranet.local » (10.0.0.12) est une adresse "
    "privée. Un webhook ne peut viser qu'une adresse publique.",
)


def _actor(principal: Principal) -> Actor:
    return Actor(
        kind="api_key", id=str(principal.key_id) if principal.key_id else None, role=principal.role.value
    )


def _wake_dispatcher(request: Request) -> None:
    # Only when the dispatcher runs in this process; otherwise its short poll picks the delivery up.
    dispatcher = getattr(request.app.state, "webhook_dispatcher", None)
    if dispatcher is not None:
        dispatcher.wake()


async def valid_webhook(webhook_id: uuid.UUID, session: SessionDep) -> WebhookSubscription:
    return await service.get(session, webhook_id)


WebhookDep = Annotated[WebhookSubscription, Depends(valid_webhook)]


async def checked_update(body: WebhookUpdate, settings: SettingsDep) -> service.CheckedUpdate:
    """The changes, with a new URL already checked against SSRF: this resolves DNS, so it runs before the
    request's first statement (declared before the subscription), when no transaction holds a lock yet."""
    return await service.check_update(body, service.target_policy(settings))


CheckedUpdateDep = Annotated[service.CheckedUpdate, Depends(checked_update)]


@router.post(
    "", status_code=201, response_model=WebhookWithSecret, responses={403: _FORBIDDEN, 422: _REFUSED}
)
async def create_webhook(
    editor: EditorDep, body: WebhookCreate, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> WebhookWithSecret:
    """Subscribe an endpoint to event types (admin, city); the answer carries the signing secret, shown once."""
    subscription = await service.create_subscription(
        session, _actor(editor), clock, service.target_policy(settings), body
    )
    return WebhookWithSecret.model_validate(subscription)


@router.get("", response_model=list[WebhookRead], responses={403: _FORBIDDEN})
async def list_webhooks(viewer: ViewerDep, session: SessionDep) -> list[WebhookRead]:
    """List the subscriptions, without their secrets (admin, city, reader)."""
    return [WebhookRead.model_validate(s) for s in await service.list_subscriptions(session)]


@router.get("/{webhook_id}", response_model=WebhookRead, responses={403: _FORBIDDEN, 404: _NOT_FOUND})
async def get_webhook(viewer: ViewerDep, subscription: WebhookDep) -> WebhookRead:
    """One subscription, without its secret: its state and why it was disabled, if it was."""
    return WebhookRead.model_validate(subscription)


@router.patch(
    "/{webhook_id}", response_model=WebhookRead, responses={403: _FORBIDDEN, 404: _NOT_FOUND, 422: _REFUSED}
)
async def update_webhook(
    editor: EditorDep,
    changes: CheckedUpdateDep,
    subscription: WebhookDep,
    session: SessionDep,
    clock: ClockDep,
) -> WebhookRead:
    """Change the URL or the event types, or enable / disable the subscription (admin, city)."""
    return WebhookRead.model_validate(
        await service.update_subscription(session, clock, subscription, changes)
    )


@router.delete(
    "/{webhook_id}", status_code=204, response_class=Response, responses={403: _FORBIDDEN, 404: _NOT_FOUND}
)
async def delete_webhook(editor: EditorDep, subscription: WebhookDep, session: SessionDep) -> Response:
    """Delete the subscription and its delivery history (admin, city)."""
    await service.delete_subscription(session, subscription)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    responses={403: _FORBIDDEN, 404: _NOT_FOUND},
)
async def rotate_webhook_secret(
    editor: EditorDep, subscription: WebhookDep, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> WebhookWithSecret:
    """Replace the signing secret, shown once; the old one still signs beside it for a grace period (24 h by
    default), so the receiver can switch without refusing a request."""
    return WebhookWithSecret.model_validate(
        await service.rotate_secret(session, clock, service.retry_policy(settings), subscription)
    )


@router.get(
    "/{webhook_id}/deliveries",
    response_model=WebhookDeliveryPage,
    responses={403: _FORBIDDEN, 404: _NOT_FOUND},
)
async def list_webhook_deliveries(
    viewer: ViewerDep,
    subscription: WebhookDep,
    session: SessionDep,
    status: DeliveryStatus | None = None,
    cursor: Annotated[uuid.UUID | None, Query(description="Le `next_cursor` de la page précédente.")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
) -> WebhookDeliveryPage:
    """The subscription's deliveries, newest first, each with its attempts (status code or error)."""
    return await service.list_deliveries(session, subscription, status, cursor, limit)


@router.post(
    "/{webhook_id}/test",
    status_code=202,
    response_model=WebhookDeliveryRead,
    responses={403: _FORBIDDEN, 404: _NOT_FOUND},
)
async def test_webhook(
    editor: EditorDep,
    subscription: WebhookDep,
    session: SessionDep,
    clock: ClockDep,
    request: Request,
    background: BackgroundTasks,
) -> WebhookDeliveryRead:
    """Send a signed `webhook.ping` to the endpoint now (even a disabled one, to check a fix); follow it in
    the deliveries. Tried once, it never counts against the subscription."""
    delivery = await service.queue_ping(session, _actor(editor), clock, subscription)
    # A background task runs after the response, so after the commit: the dispatcher then finds the ping.
    background.add_task(_wake_dispatcher, request)
    return WebhookDeliveryRead.model_validate(delivery)
