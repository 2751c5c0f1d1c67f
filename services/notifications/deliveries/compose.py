"""From a claimed delivery to the mail to send, with the commitments service's answer of the moment.

Just before sending, a reminder is checked against that answer: one whose deadline was renegotiated since the
event, or met, or whose item no longer takes reminders (answered, delivered, abandoned …) is cancelled with the
reason instead of being mailed. A digest drops such reminders from its list, each with its reason."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from opentelemetry import trace

from services.notifications.actions.links import action_links as signed_action_links
from services.notifications.commitments_client import CommitmentsClient
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries.models import Delivery, DeliveryKind
from services.notifications.deliveries.repository import ClaimedDelivery
from services.notifications.deliveries.service import DeadlineReminder
from services.notifications.email.message import OutgoingMail, build_mail
from services.notifications.email.render import (
    RenderedEmail,
    render_digest,
    render_failure_report,
    render_reminder,
)
from services.notifications.recipients import Recipient, ReminderContext
from shared.calendar import WorkingCalendar
from shared.clock import Clock, paris_today
from shared.events import EventEnvelope

tracer = trace.get_tracer(__name__)

# Who may act on a request through the signed links: the partner's people. The city's own (its owner, the
# elected official) get the mail without them, since the pages act as a contact of the partner.
PARTNER_AUDIENCES = frozenset({"liaison", "deputy", "hierarchy"})


def takes_action_links(context: ReminderContext, recipient: Recipient) -> bool:
    """Whether this recipient's mail about this item carries action links."""
    return context.item.kind == "request" and recipient.audience in PARTNER_AUDIENCES


def stale_reason(event: DeadlineReminder, context: ReminderContext) -> str | None:
    """Why a reminder must no longer go out, as of the commitments service's answer; None while it is current."""
    deadline = context.deadline
    if deadline is None:
        return "échéance supprimée"
    if deadline.version != event.deadline_version:
        return (
            f"échéance modifiée depuis le rappel (version {event.deadline_version} → {deadline.version}, "
            f"désormais le {deadline.due_on.isoformat()})"
        )
    if deadline.met_on is not None:
        return f"échéance tenue le {deadline.met_on.isoformat()}"
    if not deadline.reminders_active:
        return f"plus de rappel pour cet élément (statut « {context.item.status} »)"
    return None


class Cancelled(Exception):
    """Nothing to send any more; the reason is kept on the delivery."""

    def __init__(self, reason: str, parts: dict[uuid.UUID, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.parts = parts or {}


class Refused(Exception):
    """The message builder refused an address or a header: a permanent failure, reported like a 5xx."""

    def __init__(self, reason: str, owners: list[Recipient]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.owners = owners


class ContextRequests:
    """The reminder contexts of one claimed batch: each distinct question asked once, when first needed."""

    def __init__(self, commitments: CommitmentsClient) -> None:
        self.commitments = commitments
        self._asked: dict[
            tuple[uuid.UUID, uuid.UUID | None, tuple[str, ...]], asyncio.Future[ReminderContext | None]
        ] = {}

    async def get(
        self, item_id: uuid.UUID, deadline_id: uuid.UUID | None, audiences: Sequence[str]
    ) -> ReminderContext | None:
        key = (item_id, deadline_id, tuple(sorted(set(audiences))))
        if key not in self._asked:
            self._asked[key] = asyncio.ensure_future(self.commitments.reminder_context(*key))
        return await self._asked[key]


@dataclass
class Composed:
    """A mail ready to send, who to tell should it fail for good, and the digest's reminders dropped as stale."""

    mail: OutgoingMail
    owners: list[Recipient] = field(default_factory=list)
    cancelled_parts: dict[uuid.UUID, str] = field(default_factory=dict)


def reminder_event(row: ClaimedDelivery | Delivery) -> DeadlineReminder:
    """The reminder event a delivery row keeps."""
    return EventEnvelope.model_validate(row.event).parsed()  # type: ignore[return-value]  # a delivery keeps only reminder events


def _find(context: ReminderContext, contact_id: uuid.UUID, audiences: Sequence[str]) -> Recipient | None:
    return next(
        (r for r in context.recipients if r.contact_id == contact_id and r.audience in audiences), None
    )


class MailComposer:
    """Renders deliveries for the commitments service's answer of the moment (reminder, digest, failure report)."""

    def __init__(self, settings: NotificationsSettings, clock: Clock, calendar: WorkingCalendar) -> None:
        self.settings = settings
        self.clock = clock
        self.calendar = calendar
        self.domain = settings.message_id_domain

    async def compose(
        self, row: ClaimedDelivery, digest_parts: list[Delivery], contexts: ContextRequests
    ) -> Composed | None:
        """The mail of `row`; None when nobody is left to write to. Raises Cancelled when what it says is no longer
        current, Refused when the message builder refuses an address."""
        # The recipients' lookup (a client span) and the rendering happen in it.
        with tracer.start_as_current_span(f"compose {row.kind}"):
            if row.kind == DeliveryKind.REMINDER:
                return await self._reminder(row, contexts)
            if row.kind == DeliveryKind.DIGEST:
                return await self._digest(row, digest_parts, contexts)
            return await self._failure_report(row, contexts)

    def _mail(self, rendered: RenderedEmail, recipient: Recipient, owners: list[Recipient]) -> OutgoingMail:
        try:
            return build_mail(
                rendered, self.settings.mail_sender, recipient.email, recipient.display_name, self.clock.now()
            )
        except ValueError as exc:
            raise Refused(str(exc), owners) from exc

    async def _reminder(self, row: ClaimedDelivery, contexts: ContextRequests) -> Composed | None:
        event = reminder_event(row)
        # The city owner is asked for too: told if the reminder fails for good.
        context = await contexts.get(event.item_id, event.deadline_id, [*event.audience, "city_owner"])
        if context is None:
            return None
        stale = stale_reason(event, context)
        if stale is not None:
            raise Cancelled(stale)
        recipient = _find(context, row.contact_id, event.audience)
        if recipient is None:
            return None
        links = (
            signed_action_links(
                self.settings, event.item_id, row.contact_id, event.deadline_id, self.clock.now()
            )
            if takes_action_links(context, recipient)
            else {}
        )
        # The mail shows the event's audience, not the city owner asked for in case of failure.
        shown = context.model_copy(
            update={"recipients": [r for r in context.recipients if r.audience in event.audience]}
        )
        rendered = render_reminder(
            event,
            shown,
            recipient,
            paris_today(self.clock),
            self.calendar,
            links,
            row.message_id,
            self.domain,
        )
        owners = [r for r in context.recipients if r.audience == "city_owner"]
        return Composed(self._mail(rendered, recipient, owners), owners)

    async def _digest(
        self, row: ClaimedDelivery, parts: list[Delivery], contexts: ContextRequests
    ) -> Composed | None:
        entries: list[tuple[DeadlineReminder, ReminderContext]] = []
        links_per_item: dict[uuid.UUID, dict[str, str]] = {}
        cancelled_parts: dict[uuid.UUID, str] = {}
        recipient = None
        for part in parts:
            event = reminder_event(part)
            context = await contexts.get(event.item_id, event.deadline_id, event.audience)
            found = _find(context, row.contact_id, event.audience) if context is not None else None
            if context is None or found is None:
                continue
            stale = stale_reason(event, context)
            if stale is not None:
                cancelled_parts[part.id] = stale
                continue
            recipient = found
            entries.append((event, context))
            if takes_action_links(context, found):
                links_per_item[event.item_id] = signed_action_links(
                    self.settings, event.item_id, row.contact_id, event.deadline_id, self.clock.now()
                )
        if recipient is None:
            if cancelled_parts:
                raise Cancelled("plus aucun rappel en cours dans ce récapitulatif", cancelled_parts)
            return None
        rendered = render_digest(
            entries,
            recipient,
            paris_today(self.clock),
            self.calendar,
            links_per_item,
            row.message_id,
            self.domain,
        )
        # A digest spans several items: no single owner to tell.
        return Composed(self._mail(rendered, recipient, []), [], cancelled_parts)

    async def _failure_report(self, row: ClaimedDelivery, contexts: ContextRequests) -> Composed | None:
        report = row.event or {}
        item_id = uuid.UUID(report["item_id"])
        deadline_id = uuid.UUID(report["deadline_id"]) if report.get("deadline_id") else None
        failed_audience = report.get("failed_audience") or "liaison"
        context = await contexts.get(item_id, deadline_id, ["city_owner", failed_audience])
        if context is None:
            return None
        recipient = _find(context, row.contact_id, ["city_owner"])
        failed = _find(context, uuid.UUID(report["failed_contact_id"]), [failed_audience])
        if recipient is None or failed is None:
            return None
        rendered = render_failure_report(
            context,
            failed,
            report.get("smtp_reply", ""),
            paris_today(self.clock),
            row.message_id,
            self.domain,
        )
        # A failed report is not reported again.
        return Composed(self._mail(rendered, recipient, []))
