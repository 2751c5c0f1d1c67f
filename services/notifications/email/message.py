"""From a rendered email to a MIME message: headers that data can never break, one recipient only."""

from __future__ import annotations

import re
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formatdate, getaddresses

from services.notifications.email.render import RenderedEmail
from services.notifications.email.wording import one_line

# What a Message-ID we generate looks like: "<left@right>", no space, no bracket or control inside.
_MESSAGE_ID = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>")
_FORBIDDEN_IN_ADDRESS = frozenset("\r\n\x00")


def _checked_message_id(value: str, header: str) -> str:
    if not _MESSAGE_ID.fullmatch(value):
        raise ValueError(f"{header} invalide : {value!r}")
    return value


def mailbox(email_address: str, display_name: str | None = None) -> Address:
    """One mailbox; an address that is not exactly one valid address (or carries CR, LF or NUL) is a ValueError."""
    if _FORBIDDEN_IN_ADDRESS & set(email_address):
        raise ValueError("adresse électronique invalide : caractère de contrôle")
    local, at, domain = email_address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"adresse électronique invalide : {email_address!r}")
    try:
        # An internationalised domain travels as its ASCII (IDNA) form; the local part must already be ASCII.
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"nom de domaine invalide : {domain!r}") from exc
    # Address parses addr_spec itself and refuses anything but one address ("a@b, c@d", "a@b>Bcc" …).
    name = " ".join(one_line(display_name).split()) if display_name else ""
    return Address(display_name=name, addr_spec=f"{local}@{domain}")


def _sender(sender: str) -> Address:
    if _FORBIDDEN_IN_ADDRESS & set(sender):
        raise ValueError("expéditeur invalide : caractère de contrôle")
    parsed = getaddresses([sender])
    if len(parsed) != 1 or not parsed[0][1]:
        raise ValueError(f"expéditeur invalide : {sender!r}")
    name, address = parsed[0]
    return mailbox(address, name or None)


def build_message(rendered: RenderedEmail, sender: str, to_email: str, to_name: str | None,
                  date: datetime | None = None) -> EmailMessage:
    """The MIME message (plain text with an HTML alternative) for one recipient, threaded by its item."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = _sender(sender)
    message["To"] = mailbox(to_email, to_name)
    message["Subject"] = " ".join(one_line(rendered.subject).split())
    message["Message-ID"] = _checked_message_id(rendered.message_id, "Message-ID")
    if rendered.in_reply_to:
        message["In-Reply-To"] = _checked_message_id(rendered.in_reply_to, "In-Reply-To")
    if rendered.references:
        references = rendered.references.split()
        for reference in references:
            _checked_message_id(reference, "References")
        message["References"] = " ".join(references)
    # The caller passes its clock's instant; building a message without one stamps the moment it is built.
    message["Date"] = format_datetime(date) if date is not None else formatdate(usegmt=True)
    # RFC 3834: automatic mail; well-behaved auto-responders (vacation notices) do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = "fr"
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return message
