from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.notifications.deliveries import bounces, service
from services.notifications.deliveries.models import Delivery, DeliveryStatus
from services.notifications.deliveries.repository import DeliveryFilters
from services.notifications.deliveries.schemas import BounceRead, DeliveryPage, DeliveryRead
from services.notifications.dependencies import (
    BounceReporterDep,
    ClockDep,
    EditorDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
)
from services.notifications.metrics import count_reminder_events

router = APIRouter(prefix="/v1", tags=["Deliveries"])

_PROBLEM = {
    "content": {
        "application/problem+json": {
            "example": {
                "type": "urn:engagements:problem:not-found",
                "title": "Introuvable",
                "status": 404,
                "detail": "Envoi introuvable.",
                "code": "not-found",
            }
        }
    }
}


async def visible_delivery(delivery_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Delivery:
    return await service.get_visible(session, principal, delivery_id)


VisibleDeliveryDep = Annotated[Delivery, Depends(visible_delivery)]


@router.get("/deliveries", response_model=DeliveryPage, responses={422: _PROBLEM})
async def list_deliveries(
    session: SessionDep,
    principal: PrincipalDep,
    item_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    status: DeliveryStatus | None = None,
    cursor: Annotated[uuid.UUID | None, Query(description="Le `next_cursor` de la page précédente.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryPage:
    """List deliveries, newest first (filters: item, partner, status); a partner key sees its own only."""
    rows, next_cursor = await service.list_page(
        session,
        principal,
        DeliveryFilters(item_id=item_id, partner_id=partner_id, status=status),
        cursor,
        limit,
    )
    return DeliveryPage(items=[DeliveryRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryRead, responses={404: _PROBLEM})
async def get_delivery(delivery: VisibleDeliveryDep) -> DeliveryRead:
    """One delivery: its status, attempts and the SMTP server's last answer."""
    return DeliveryRead.model_validate(delivery)


@router.post(
    "/deliveries/{delivery_id}/resend", response_model=DeliveryRead, responses={404: _PROBLEM, 409: _PROBLEM}
)
async def resend_delivery(
    delivery_id: uuid.UUID, session: SessionDep, clock: ClockDep, settings: SettingsDep, editor: EditorDep
) -> DeliveryRead:
    """Send a delivery again now, under a new Message-ID (admin, city)."""
    delivery = await service.get_visible(session, editor, delivery_id)
    return DeliveryRead.model_validate(
        await service.resend(session, clock, delivery, settings.message_id_domain)
    )


_REPORT_PROBLEM = {
    "content": {
        "application/problem+json": {
            "example": {
                "type": "urn:engagements:problem:not-a-delivery-report",
                "title": "Avis de non-remise illisible",
                "status": 422,
                "detail": "Ce courrier n'est pas un avis de remise (multipart/report, report-type=delivery-status, RFC 3464).",
                "code": "not-a-delivery-report",
            }
        }
    }
}
_DSN_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            "L'avis de remise tel que reçu par le serveur de courrier (RFC 3464 : multipart/report, "
            "report-type=delivery-status), en-têtes compris."
        ),
        "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/deliveries/bounces",
    response_model=BounceRead,
    openapi_extra=_DSN_BODY,
    responses={404: _PROBLEM, 422: _REPORT_PROBLEM},
)
async def report_bounce(
    request: Request, session: SessionDep, clock: ClockDep, _reporter: BounceReporterDep
) -> BounceRead:
    """Hand over a delivery status notification (bounce) received for a sent mail (admin, service: the key of
    the mail server's pipe). `Action: failed` marks the delivery `bounced` and publishes `delivery.bounced`;
    other reports, and a second report of the same bounce, change nothing (`outcome`)."""
    report = bounces.parse_report(await request.body())
    result = await bounces.record_bounce(session, clock, report)
    # Counted before the request's commit: a commit that fails answers 500, and the mail server hands the report
    # over again, so a bounce may count twice (never zero times).
    count_reminder_events(result.events)
    return BounceRead(
        delivery_id=result.delivery.id,
        outcome=result.outcome,
        action=report.action,
        status=report.status,
        reason=report.reason if report.is_bounce else None,
    )
