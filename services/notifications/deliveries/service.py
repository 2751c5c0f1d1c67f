"""Rules on deliveries: who sees which, resending, and the state changes of a send."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.deliveries import repository
from services.notifications.deliveries.models import Delivery, DeliveryKind, DeliveryStatus
from services.notifications.deliveries.repository import DeliveryFilters
from services.notifications.preferences import repository as preferences_repository
from services.notifications.preferences.models import ApproachingMode
from services.notifications.recipients import Recipient, ReminderContext
from shared.auth import Principal
from shared.clock import Clock
from shared.db import new_id
from shared.events import EventEnvelope
from shared.events.commitments import DeadlineApproaching, DeadlineDue, DeadlineEscalated, DeadlineOverdue
from shared.problems import Conflict, NotFound
from shared.telemetry import inject_trace_context

DeadlineReminder: TypeAlias = DeadlineApproaching | DeadlineDue | DeadlineOverdue | DeadlineEscalated
REMINDER_TYPES = frozenset(
    cls.type for cls in (DeadlineApproaching, DeadlineDue, DeadlineOverdue, DeadlineEscalated)
)
EMAIL = "email"
DIGEST_TYPE = "digest.weekly"
FAILURE_REPORT_TYPE = "delivery.failed"


def message_id_for(delivery_id: uuid.UUID, resend_count: int, domain: str) -> str:
    """The Message-ID of a delivery, fixed before the first attempt: a crash after the SMTP server took the
    mail and before the row said so sends it again under the same Message-ID, which clients fold into one."""
    suffix = f".{resend_count}" if resend_count else ""
    return f"<{delivery_id}{suffix}@{domain}>"


async def list_page(
    session: AsyncSession,
    principal: Principal,
    filters: DeliveryFilters,
    cursor: uuid.UUID | None,
    limit: int,
) -> tuple[Sequence[Delivery], str | None]:
    """A page of deliveries the caller may see, and the cursor of the next one."""
    if principal.is_partner:
        filters = DeliveryFilters(
            item_id=filters.item_id,
            partner_id=filters.partner_id,
            status=filters.status,
            visible_partner_ids=principal.visible_partner_ids,
        )
    rows = await repository.list_page(session, filters, cursor, limit + 1)
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def get_visible(session: AsyncSession, principal: Principal, delivery_id: uuid.UUID) -> Delivery:
    """A delivery the caller may see; another partner's answers 404 like a missing one."""
    delivery = await repository.get(session, delivery_id)
    if delivery is None or not principal.may_see_partner(delivery.partner_id):
        raise NotFound("Envoi introuvable.")
    return delivery


async def resend(session: AsyncSession, clock: Clock, delivery: Delivery, domain: str) -> Delivery:
    """Send a delivery again, now, under a new Message-ID (a client would drop a second copy of the first)."""
    if delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.HELD):
        raise Conflict(
            "Cet envoi est déjà en attente : il partira sans qu'il soit besoin de le relancer.",
            delivery_status=delivery.status,
        )
    now = clock.now()
    delivery.resend_count += 1
    delivery.message_id = message_id_for(delivery.id, delivery.resend_count, domain)
    delivery.status = DeliveryStatus.PENDING.value
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.retry_since = now
    delivery.last_error = None
    delivery.failed_at = delivery.bounced_at = None
    delivery.updated_at = now
    await session.flush()
    return delivery


def new_row(
    *,
    event_id: uuid.UUID,
    contact_id: uuid.UUID,
    kind: DeliveryKind,
    event_type: str,
    event: dict[str, Any] | None,
    item_id: uuid.UUID | None,
    deadline_id: uuid.UUID | None,
    partner_id: uuid.UUID | None,
    audience: str | None,
    held: bool,
    now: datetime,
    domain: str,
    trace_context: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The values of a new delivery, its Message-ID fixed from its id before anything is sent; its send carries
    on `trace_context`."""
    delivery_id = new_id()
    return {
        "id": delivery_id,
        "event_id": event_id,
        "contact_id": contact_id,
        "channel": EMAIL,
        "kind": kind.value,
        "event_type": event_type,
        "event": event,
        "item_id": item_id,
        "deadline_id": deadline_id,
        "partner_id": partner_id,
        "audience": audience,
        "status": (DeliveryStatus.HELD if held else DeliveryStatus.PENDING).value,
        "message_id": message_id_for(delivery_id, 0, domain),
        "attempts": 0,
        "resend_count": 0,
        "next_attempt_at": None if held else now,
        "claimed_by": None,
        "claim_generation": None,
        "retry_since": now,
        "last_error": None,
        "digest_id": None,
        "related_delivery_id": None,
        "trace_context": trace_context,
        "created_at": now,
        "updated_at": now,
        "sent_at": None,
        "failed_at": None,
        "bounced_at": None,
    }


async def record_reminder(
    session: AsyncSession,
    clock: Clock,
    domain: str,
    envelope: EventEnvelope,
    event: DeadlineReminder,
    context: ReminderContext,
    next_digest_on: date | None = None,
) -> int:
    """One delivery per recipient of a reminder event (held for the digest when the contact chose it for
    "approaching" reminders); returns how many recipients there were."""
    rows = await reminder_rows(session, clock, domain, envelope, event, context, next_digest_on)
    await repository.insert_ignoring_duplicates(session, rows)
    return len(rows)


async def reminder_rows(
    session: AsyncSession,
    clock: Clock,
    domain: str,
    envelope: EventEnvelope,
    event: DeadlineReminder,
    context: ReminderContext,
    next_digest_on: date | None = None,
) -> list[dict[str, Any]]:
    """The delivery rows of a reminder event, one per recipient, to insert with repository.insert_ignoring_duplicates.
    An "approaching" reminder is held for the weekly digest (of `next_digest_on`) only when that digest
    arrives before the deadline's day; otherwise it goes now, as it would come too late."""
    now = clock.now()
    recipients: dict[uuid.UUID, Recipient] = {}
    for recipient in context.recipients:
        if recipient.audience in event.audience:
            recipients.setdefault(recipient.contact_id, recipient)
    due_on = context.deadline.due_on if context.deadline is not None else event.due_on
    digest_allowed = isinstance(event, DeadlineApproaching) and (
        next_digest_on is None or next_digest_on < due_on
    )
    modes = await preferences_repository.approaching_modes(session, recipients) if digest_allowed else {}
    payload = envelope.model_dump(mode="json")
    # The trace the event is handled in (the consumer's span): each mail's send carries it on.
    trace_context = dict(inject_trace_context({})) or None
    rows = [
        new_row(
            event_id=envelope.id,
            contact_id=recipient.contact_id,
            kind=DeliveryKind.REMINDER,
            event_type=envelope.type,
            event=payload,
            item_id=event.item_id,
            deadline_id=event.deadline_id,
            partner_id=recipient.partner_id,
            audience=recipient.audience,
            held=modes.get(recipient.contact_id) == ApproachingMode.WEEKLY_DIGEST.value,
            now=now,
            domain=domain,
            trace_context=trace_context,
        )
        for recipient in recipients.values()
    ]
    return rows


def failure_report_event_id(delivery: Delivery) -> uuid.UUID:
    """One report per failed delivery (and per resend of it), whoever notices the failure."""
    return uuid.uuid5(
        uuid.NAMESPACE_URL, f"urn:engagements:failure-report:{delivery.id}:{delivery.resend_count}"
    )


async def record_failure_reports(
    session: AsyncSession, clock: Clock, domain: str, delivery: Delivery, owners: list[Recipient]
) -> None:
    """Tell the item's city owner(s) that a reminder could not be delivered (once per failure)."""
    now = clock.now()
    payload = {
        "failed_delivery_id": str(delivery.id),
        "failed_contact_id": str(delivery.contact_id),
        "failed_audience": delivery.audience,
        "item_id": str(delivery.item_id),
        "deadline_id": str(delivery.deadline_id) if delivery.deadline_id else None,
        "smtp_reply": delivery.last_error or "",
    }
    rows = []
    for owner in owners:
        row = new_row(
            event_id=failure_report_event_id(delivery),
            contact_id=owner.contact_id,
            kind=DeliveryKind.FAILURE_REPORT,
            event_type=FAILURE_REPORT_TYPE,
            event=payload,
            item_id=delivery.item_id,
            deadline_id=delivery.deadline_id,
            partner_id=owner.partner_id,
            audience=owner.audience,
            held=False,
            now=now,
            domain=domain,
            trace_context=delivery.trace_context,
        )  # in the trace of the reminder that failed
        row["related_delivery_id"] = delivery.id
        rows.append(row)
    await repository.insert_ignoring_duplicates(session, rows)
