"""From a rendered email to the bytes sent over SMTP: headers that data can never break, one recipient only.

The few headers are written here rather than through email.policy.SMTP, whose header registry parses and
refolds every value again (about a millisecond a mail, the largest share of the worker's time). Every value
that comes from data is on one line before it is written (one_line, then whitespace collapsed), addresses are
checked against a strict grammar, non-ASCII phrases and subjects become RFC 2047 encoded words of at most 75
characters, lines are folded to 78 characters (RFC 5322), and both bodies travel as quoted-printable (7 bits,
lines of at most 76 characters). A last check refuses any CR, LF or NUL inside a header value whatever its
origin. build_message parses the same bytes back into an EmailMessage for callers who want one.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formatdate, getaddresses

from services.notifications.email.quoted_printable import encode_body
from services.notifications.email.render import RenderedEmail
from services.notifications.email.wording import one_line

# What a Message-ID we generate looks like: "<left@right>", no space, no bracket or control inside.
_MESSAGE_ID = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>")
_FORBIDDEN_IN_ADDRESS = frozenset("\r\n\x00")
# RFC 5322 dot-atom for the local part (quoted local parts are refused: no contact has one, and refusing
# is the safe side), and an ASCII host name once the domain has been through IDNA.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")
# A display name written as is: atext and spaces only (RFC 5322 phrase of atoms); anything else ASCII is quoted.
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")
# Whatever path a value took, a header value never carries these (defence in depth: the checks above hold).
_HEADER_BREAKERS = re.compile(r"[\r\n\x00]")
_LINE = 78  # RFC 5322 §2.1.1: lines SHOULD NOT exceed 78 characters.
_ENCODED_WORD = 75  # RFC 2047 §2: an encoded word is at most 75 characters.
_EW_PREFIX, _EW_SUFFIX = "=?utf-8?q?", "?="
# RFC 2047 §5(3): the characters a "Q" encoded word may carry as themselves in a phrase (the strictest
# context, so the same words serve in Subject and in display names).
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


@dataclass(frozen=True)
class OutgoingMail:
    """A message ready for SMTP: the envelope and the bytes (CRLF line ends, 7 bits)."""

    sender: str
    recipients: tuple[str, ...]
    content: bytes


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
    # Both grammars refuse spaces, commas, brackets and "@": "a@b, c@d" or "a@b>Bcc" cannot pass.
    if not _LOCAL_PART.fullmatch(local) or not _DOMAIN.fullmatch(domain):
        raise ValueError(f"adresse électronique invalide : {email_address!r}")
    return f"{local}@{domain}"


def _clean_name(display_name: str | None) -> str:
    return " ".join(one_line(display_name).split()) if display_name else ""


def mailbox(email_address: str, display_name: str | None = None) -> Address:
    """One mailbox; an address that is not exactly one valid address (or carries CR, LF or NUL) is a ValueError."""
    return Address(display_name=_clean_name(display_name), addr_spec=_checked_address(email_address))


@functools.lru_cache(maxsize=4096)
def _q_char(char: str) -> str:
    return "".join(chr(byte) if byte in _Q_SAFE else ("_" if byte == 0x20 else f"={byte:02X}")
                   for byte in char.encode("utf-8"))


def _encoded_words(text: str, first_room: int) -> list[str]:
    """`text` as "Q" encoded words, the first fitting in `first_room` characters, a character never split."""
    overhead = len(_EW_PREFIX) + len(_EW_SUFFIX)
    words: list[str] = []
    room = max(first_room, overhead + 12) - overhead
    current: list[str] = []
    used = 0
    for char in text:
        encoded = _q_char(char)
        if used + len(encoded) > room and current:
            words.append(f"{_EW_PREFIX}{''.join(current)}{_EW_SUFFIX}")
            current, used, room = [], 0, _ENCODED_WORD - overhead
        current.append(encoded)
        used += len(encoded)
    if current:
        words.append(f"{_EW_PREFIX}{''.join(current)}{_EW_SUFFIX}")
    return words


def _fold(name: str, tokens: list[str]) -> str:
    """`Name: token token …` with a CRLF and a space before a token that would pass 78 characters."""
    line = f"{name}:"
    lines: list[str] = []
    for token in tokens:
        if len(line) + 1 + len(token) > _LINE and line != f"{name}:":
            lines.append(line)
            line = ""
        line += f" {token}"
    lines.append(line)
    return "\r\n".join(lines)


def _needs_encoding(text: str) -> bool:
    # "=?" in plain text would be read back as the start of an encoded word.
    return not text.isascii() or "=?" in text or any(len(word) > _LINE - 10 for word in text.split(" "))


# Pure functions of their strings: a batch to one recipient about one item writes the same headers again.
@functools.lru_cache(maxsize=1024)
def _unstructured(name: str, text: str) -> str:
    """An unstructured header (Subject) from one-line text."""
    if not text:
        return f"{name}: "
    if _needs_encoding(text):
        return _fold(name, _encoded_words(text, _LINE - len(name) - 2))
    return _fold(name, text.split(" "))


@functools.lru_cache(maxsize=1024)
def _mailbox_header(name: str, address: str, display_name: str) -> str:
    """`Name: phrase <address>`: the phrase as atoms, a quoted string or encoded words."""
    if not display_name:
        return f"{name}: {address}"
    quoted = ""
    if not _needs_encoding(display_name) and not _ATOMS.fullmatch(display_name):
        quoted = '"' + display_name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if _needs_encoding(display_name) or len(quoted) > _LINE - len(name) - 2:
        # A quoted string cannot be folded without changing it: a long one goes as encoded words.
        phrase = _encoded_words(display_name, _LINE - len(name) - 2)
    elif quoted:
        phrase = [quoted]
    else:
        phrase = display_name.split(" ")
    return _fold(name, [*phrase, f"<{address}>"])


@functools.lru_cache(maxsize=16)
def _from_header(sender: str) -> tuple[str, str]:
    """The From header and the envelope sender of the configured sender (parsed once per value)."""
    if _FORBIDDEN_IN_ADDRESS & set(sender):
        raise ValueError("expéditeur invalide : caractère de contrôle")
    parsed = getaddresses([sender])
    if len(parsed) != 1 or not parsed[0][1]:
        raise ValueError(f"expéditeur invalide : {sender!r}")
    display_name, address = parsed[0]
    address = _checked_address(address)
    return _mailbox_header("From", address, _clean_name(display_name)), address


@functools.lru_cache(maxsize=64)
def _date_header(instant: datetime) -> str:
    """The Date header of an instant to the second (all it shows): the mails of a batch share a few."""
    return f"Date: {format_datetime(instant)}"


def _references(value: str) -> str:
    ids = value.split()
    for reference in ids:
        _checked_message_id(reference, "References")
    return _fold("References", ids)


def build_mail(rendered: RenderedEmail, sender: str, to_email: str, to_name: str | None,
               date: datetime | None = None) -> OutgoingMail:
    """The message (plain text with an HTML alternative) for one recipient, threaded by its item, as bytes."""
    from_header, envelope_sender = _from_header(sender)
    address = _checked_address(to_email)
    headers = [
        from_header,
        _mailbox_header("To", address, _clean_name(to_name)),
        _unstructured("Subject", " ".join(one_line(rendered.subject).split())),
        f"Message-ID: {_checked_message_id(rendered.message_id, 'Message-ID')}",
    ]
    if rendered.in_reply_to:
        headers.append(f"In-Reply-To: {_checked_message_id(rendered.in_reply_to, 'In-Reply-To')}")
    if rendered.references:
        headers.append(_references(rendered.references))
    # The caller passes its clock's instant; building a message without one stamps the moment it is built.
    headers.append(_date_header(date.replace(microsecond=0)) if date is not None else
                   f"Date: {formatdate(usegmt=True)}")
    # RFC 3834: automatic mail; well-behaved auto-responders (vacation notices) do not answer it.
    headers.append("Auto-Submitted: auto-generated")
    headers.append("Content-Language: fr")
    # The boundary follows from the Message-ID (the same on every attempt); "==" never occurs in a
    # quoted-printable body ("=" is always followed by two hex digits or a line end there).
    boundary = f"==_alt_{hashlib.sha256(rendered.message_id.encode('ascii')).hexdigest()[:24]}"
    headers.append("MIME-Version: 1.0")
    headers.append(f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"')
    for header in headers:
        name, _, value = header.partition(":")
        if _HEADER_BREAKERS.search(value.replace("\r\n ", "")):
            raise ValueError(f"en-tête {name} invalide : caractère de contrôle")
    content = b"".join((
        "\r\n".join(headers).encode("ascii"), b"\r\n\r\n",
        f"--{boundary}\r\n".encode("ascii"),
        b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
        rendered.encoded_text if rendered.encoded_text is not None else encode_body(rendered.text),
        f"--{boundary}\r\n".encode("ascii"),
        b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
        rendered.encoded_html if rendered.encoded_html is not None else encode_body(rendered.html),
        f"--{boundary}--\r\n".encode("ascii"),
    ))
    return OutgoingMail(envelope_sender, (address,), content)


def build_message(rendered: RenderedEmail, sender: str, to_email: str, to_name: str | None,
                  date: datetime | None = None) -> EmailMessage:
    """The same message as build_mail, parsed back into an EmailMessage (for tools and tests, not the sender)."""
    mail = build_mail(rendered, sender, to_email, to_name, date)
    return message_from_bytes(mail.content, policy=policy.SMTP)  # type: ignore[return-value]
