"""Bounces: a reminder the mail relay accepted, returned later by the recipient's server as a delivery status
notification (DSN, RFC 3464, inside a multipart/report of RFC 6522), read with the standard library's email
package.

The operator's mail server hands each DSN it receives for the sender's address to `POST /v1/deliveries/bounces`
as it came (docs/operations.md). The report names the returned message by its Message-ID (in the returned
message or its headers), which each delivery keeps; each recipient block says what happened (`Action`) and
why, as an RFC 3463 status code (`Status: 5.1.1`). Only `Action: failed` is a bounce: `delayed`, `delivered`,
`relayed` and `expanded` reports change nothing.

A bounce marks a sent delivery `bounced` and writes one `delivery.bounced` event per reminder it carried, in
the same transaction; a second report for the same message changes nothing."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import collapse_rfc2231_value

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.deliveries import repository
from services.notifications.deliveries.events import ReminderDelivery
from services.notifications.deliveries.models import Delivery, DeliveryKind, DeliveryStatus
from services.notifications.outbox.recorder import record_event
from shared.clock import Clock
from shared.events import EventData
from shared.problems import InvalidInput, NotFound

_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")

# RFC 3463 subject (the middle number) → reason code (shared.events.notifications.REASONS).
_SUBJECTS = {"1": "invalid-address", "2": "mailbox-unavailable", "7": "message-refused"}


class NotADeliveryReport(InvalidInput):
    code, title = "not-a-delivery-report", "Avis de non-remise illisible"


@dataclass(frozen=True)
class DeliveryReport:
    """What a DSN says about the one message it returns."""

    message_id: str
    action: str  # failed, delayed, delivered, relayed, expanded (lower case)
    status: str  # RFC 3463, e.g. "5.1.1"
    diagnostic: str | None

    @property
    def is_bounce(self) -> bool:
        return self.action == "failed"

    @property
    def reason(self) -> str:
        """The event's reason: a stable code and the status, e.g. "invalid-address:5.1.1"."""
        subject = self.status.split(".")[1] if _STATUS.match(self.status) else ""
        return f"{_SUBJECTS.get(subject, 'bounced')}:{self.status}"


def parse_report(raw: bytes) -> DeliveryReport:
    """Read a DSN (the whole mail as received); NotADeliveryReport when it is not one, or names no message."""
    try:
        return _parse(raw)
    except (ValueError, TypeError, AttributeError, LookupError) as exc:
        # Anyone may send anything to the sender's address: what the parser chokes on is not a report.
        raise NotADeliveryReport("Ce courrier n'a pas pu être lu comme un avis de remise.") from exc


def _parse(raw: bytes) -> DeliveryReport:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    report_type = collapse_rfc2231_value(message.get_param("report-type") or "")
    if message.get_content_type() != "multipart/report" or report_type.lower() != "delivery-status":
        raise NotADeliveryReport(
            "Ce courrier n'est pas un avis de remise (multipart/report, "
            "report-type=delivery-status, RFC 3464)."
        )
    status_part = _first_part(message, "message/delivery-status")
    if status_part is None:
        raise NotADeliveryReport("L'avis ne contient pas de partie message/delivery-status.")
    recipients = _recipient_blocks(status_part)
    if not recipients:
        raise NotADeliveryReport("L'avis ne contient aucun bloc par destinataire (Action, Status).")
    # One recipient per message here: a failed block, if any, decides.
    block = next(
        (b for b in recipients if (b.get("Action") or "").strip().lower() == "failed"), recipients[0]
    )
    message_id = _returned_message_id(message)
    if message_id is None:
        raise NotADeliveryReport(
            "L'avis ne dit pas quel message il renvoie (Message-ID absent du message ou des en-têtes joints)."
        )
    diagnostic = block.get("Diagnostic-Code")
    return DeliveryReport(
        message_id=message_id,
        action=(block.get("Action") or "").strip().lower(),
        status=(block.get("Status") or "").strip().split(" ")[0],
        diagnostic=str(diagnostic).strip() if diagnostic else None,
    )


def _decoded(part: Message) -> bytes:
    """A leaf part's content, its transfer encoding undone."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _first_part(message: Message, content_type: str) -> Message | None:
    return next((part for part in message.walk() if part.get_content_type() == content_type), None)


def _recipient_blocks(status_part: Message) -> list[Message]:
    """The per-recipient blocks of a message/delivery-status part (the first block is per message)."""
    payload = status_part.get_payload()
    if isinstance(payload, list):
        blocks = [block for block in payload if isinstance(block, Message)]
    else:  # a part the parser left as text (an unusual transfer encoding): read its blocks as headers
        text = _decoded(status_part)
        blocks = [
            BytesHeaderParser().parsebytes(chunk.strip() + b"\n")
            for chunk in re.split(rb"\r?\n\r?\n", text)
            if chunk.strip()
        ]
    return [block for block in blocks if block.get("Action") is not None]


def _returned_message_id(message: Message) -> str | None:
    """The Message-ID of the returned message: from the returned message (message/rfc822) or its headers
    (text/rfc822-headers)."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            returned = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(returned, Message) and returned.get("Message-ID"):
                return str(returned["Message-ID"]).strip()
        elif kind in ("text/rfc822-headers", "message/global-headers"):
            raw = _decoded(part)
            headers = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
            if headers.get("Message-ID"):
                return str(headers["Message-ID"]).strip()
    return None


@dataclass(frozen=True)
class BounceResult:
    delivery: Delivery
    outcome: str  # "bounced", "already-bounced", "ignored"
    events: tuple[EventData, ...] = ()  # written to the outbox


async def record_bounce(session: AsyncSession, clock: Clock, report: DeliveryReport) -> BounceResult:
    """Mark the delivery the report returns as bounced, with one `delivery.bounced` event per reminder it
    carried; NotFound when no delivery has that Message-ID."""
    delivery = await repository.by_message_id(
        session, report.message_id, for_update=session.bind.dialect.name == "postgresql"
    )
    if delivery is None:
        raise NotFound("Aucun envoi ne porte ce Message-ID.", message_id=report.message_id)
    if not report.is_bounce or delivery.status not in (DeliveryStatus.SENT, DeliveryStatus.BOUNCED):
        return BounceResult(delivery, "ignored")
    if delivery.status == DeliveryStatus.BOUNCED:
        return BounceResult(delivery, "already-bounced")
    now = clock.now()
    detail = f" ({report.diagnostic})" if report.diagnostic else ""
    delivery.status, delivery.bounced_at, delivery.updated_at = DeliveryStatus.BOUNCED.value, now, now
    delivery.last_error = f"avis de non-remise : {report.status}{detail}"[:1000]
    told: list[EventData] = []
    for reminder in await _reminders(session, delivery):
        data = reminder.bounced(report.reason)
        if data is not None:
            record_event(session, data, clock)
            told.append(data)
    await session.flush()
    return BounceResult(delivery, "bounced", tuple(told))


async def _reminders(session: AsyncSession, delivery: Delivery) -> list[ReminderDelivery]:
    if delivery.kind == DeliveryKind.DIGEST:
        parts = [
            part
            for part in await repository.in_digest(session, delivery.id)
            if part.status == DeliveryStatus.DIGESTED
        ]
        return [
            ReminderDelivery(part.id, part.event, part.partner_id, part.contact_id, delivery.attempts)
            for part in parts
        ]
    return [
        ReminderDelivery(
            delivery.id, delivery.event, delivery.partner_id, delivery.contact_id, delivery.attempts
        )
    ]
