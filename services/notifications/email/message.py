"""From a rendered email to the message sent over SMTP, built with the standard library's `email` package.

`email.policy.SMTP` writes the headers (RFC 2047 encoded words for non-ASCII text, folding, CRLF line ends)
and refuses a header value that holds CR or LF. Before anything reaches it, every value that comes from data is
put on one line (`wording.one_line`: controls, line and paragraph separators become spaces) and every address is
checked to be exactly one plain mailbox. One more thing: the header registry reads "=?charset?q?…?=" in a value
as an encoded word and decodes it, and Python before 3.11.10 / 3.12.5 then writes what it decoded (a CR LF
included) as it is: a title holding `=?utf-8?q?=0D=0ABcc:…?=` would add a header. So "=?" in data gets a word
joiner (U+2060, invisible) between its two characters, and every header is checked once set. The recipient
travels in the SMTP envelope as checked here, never read back from the headers, so data can neither add a header
nor a recipient. Both bodies are UTF-8 in quoted-printable: 7 bits whatever the server supports, and still
readable in the raw message.

The message is written out (OutgoingMail.as_bytes) with header lines left unfolded up to RFC 5322's limit of 998
characters: where the standard library's folder (3.11 to 3.13 alike) splits a header between two encoded words,
it loses or adds a space (one French subject in ten, measured on the shapes of our subjects). An encoded word may
then pass RFC 2047's 75 characters, which mail readers decode all the same. Bodies keep their quoted-printable
lines of at most 76 characters, encoded when they are set.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from services.notifications.email.render import RenderedEmail
from services.notifications.email.wording import one_line

# What a Message-ID we generate looks like: "<left@right>", no space, no bracket or control inside.
_MESSAGE_ID = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>")
_FORBIDDEN_IN_ADDRESS = frozenset("\r\n\x00")
# RFC 5322 dot-atom for the local part (quoted local parts are refused: no contact has one, and refusing is the
# safe side), and an ASCII host name once the domain has been through IDNA. Neither lets a space, a comma, a
# bracket or a second "@" through: "a@b, c@d" or "a@b>Bcc" cannot pass.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


# What the message is written out with: policy.SMTP, headers unfolded (see above).
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class OutgoingMail:
    """A message and its SMTP envelope: one sender, one recipient, both checked addresses."""

    sender: str
    recipient: str
    message: EmailMessage

    def as_bytes(self) -> bytes:
        """The message as sent (CRLF line ends, 7 bits)."""
        return self.message.as_bytes(policy=WIRE_POLICY)


def _checked_message_id(value: str, header: str) -> str:
    if not _MESSAGE_ID.fullmatch(value):
        raise ValueError(f"{header} invalide : {value!r}")
    return value


def _checked_address(email_address: str) -> str:
    """The addr-spec to write; anything but exactly one plain address (or CR, LF, NUL) is a ValueError."""
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
    if not _LOCAL_PART.fullmatch(local) or not _DOMAIN.fullmatch(domain):
        raise ValueError(f"adresse électronique invalide : {email_address!r}")
    return f"{local}@{domain}"


_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def header_text(text: str | None) -> str:
    """Text from data as a header shows it: on one line, whitespace runs made one space, and "=?" never read as
    the start of an encoded word."""
    return " ".join(one_line(text).split()).replace("=?", "=\u2060?") if text else ""


def mailbox(email_address: str, display_name: str | None = None) -> Address:
    """One mailbox; an address that is not exactly one valid address (or carries CR, LF or NUL) is a ValueError."""
    return Address(display_name=header_text(display_name), addr_spec=_checked_address(email_address))


@functools.lru_cache(maxsize=16)
def _sender_mailbox(sender: str) -> Address:
    """The configured sender ("Name <address>"); parsed once per value (one per installation), not per mail."""
    if _FORBIDDEN_IN_ADDRESS & set(sender):
        raise ValueError("expéditeur invalide : caractère de contrôle")
    parsed = getaddresses([sender])
    if len(parsed) != 1 or not parsed[0][1]:
        raise ValueError(f"expéditeur invalide : {sender!r}")
    display_name, address = parsed[0]
    return mailbox(address, display_name or None)


def build_mail(
    rendered: RenderedEmail, sender: str, to_email: str, to_name: str | None, date: datetime
) -> OutgoingMail:
    """The message (plain text with an HTML alternative) for one recipient, threaded by its item, and its
    envelope; a ValueError when an address or a Message-ID is not acceptable."""
    from_mailbox, to_mailbox = _sender_mailbox(sender), mailbox(to_email, to_name)
    message = EmailMessage(policy=policy.SMTP)
    # The bodies first: add_alternative moves the Content-* headers already there into the first part.
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    message["From"] = from_mailbox
    message["To"] = to_mailbox
    message["Subject"] = header_text(rendered.subject)
    message["Message-ID"] = _checked_message_id(rendered.message_id, "Message-ID")
    if rendered.in_reply_to:
        message["In-Reply-To"] = _checked_message_id(rendered.in_reply_to, "In-Reply-To")
    if rendered.references:
        references = [
            _checked_message_id(reference, "References") for reference in rendered.references.split()
        ]
        message["References"] = " ".join(references)
    message["Date"] = format_datetime(date)
    # RFC 3834: automatic mail; well-behaved auto-responders (vacation notices) do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = "fr"
    # Whatever path a value took, what the registry holds is on one line, and there is one recipient.
    for name, value in message.items():
        if _LINE_BREAKING.search(str(value)):
            raise ValueError(f"en-tête {name} invalide : caractère de contrôle")
    if len(message["To"].addresses) != 1:
        raise ValueError("un seul destinataire par message")
    return OutgoingMail(from_mailbox.addr_spec, to_mailbox.addr_spec, message)


def build_message(
    rendered: RenderedEmail, sender: str, to_email: str, to_name: str | None, date: datetime
) -> EmailMessage:
    """build_mail's message alone (for tools and tests)."""
    return build_mail(rendered, sender, to_email, to_name, date).message
