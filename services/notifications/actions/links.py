"""Signed action links: one purpose, one item, one contact, an expiry and a random id, under an HMAC.

A token is base64url(payload) "." base64url(HMAC-SHA256(key, payload)), payload being fixed-size binary
(version, purpose, expiry, token id, item, contact, deadline): about 140 characters, short enough for a mail
client not to break the link. Nothing in it is secret; what matters is that nobody can forge or alter one.
Single use is enforced by the service (the token id recorded once the action succeeded), not here.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from services.notifications.config import NotificationsSettings
from shared.problems import DomainError

_VERSION = 1
_LAYOUT = struct.Struct(
    ">BBQ16s16s16s16s"
)  # version, purpose, expires (epoch s), token, item, contact, deadline
_MAC_BYTES = 32
_NO_DEADLINE = uuid.UUID(int=0)
# Domain separation: the configured secret may one day sign something else; this key only signs links.
_KEY_LABEL = b"engagements/notifications/action-link/v1"
MAX_TOKEN_LENGTH = 300


class Purpose(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    DONE = "done"
    NEW_DATE = "new_date"
    NOT_FOR_ME = "not_for_me"


_PURPOSE_CODES = {Purpose.ACKNOWLEDGE: 1, Purpose.DONE: 2, Purpose.NEW_DATE: 3, Purpose.NOT_FOR_ME: 4}
_PURPOSES_BY_CODE = {code: purpose for purpose, code in _PURPOSE_CODES.items()}


class InvalidLink(DomainError):
    status, code, title = 400, "invalid-action-link", "Lien invalide"


class ExpiredLink(DomainError):
    status, code, title = 410, "expired-action-link", "Lien expiré"


class MissingSecret(RuntimeError):
    """No ACTION_LINK_SECRET: links could be forged, so the service does not start."""


@dataclass(frozen=True)
class ActionLink:
    """What a verified token says: who may do what on which item, until when."""

    purpose: Purpose
    token_id: uuid.UUID
    item_id: uuid.UUID
    contact_id: uuid.UUID
    deadline_id: uuid.UUID | None
    expires_at: datetime


# Derived once per secret, not once per link (four links a reminder); a handful of secrets at most per process.
@functools.lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    if not secret:
        raise MissingSecret("ACTION_LINK_SECRET est vide : les liens d'action pourraient être contrefaits.")
    return hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _token(
    key: bytes,
    purpose: Purpose,
    expires: int,
    token_id: bytes,
    item_id: uuid.UUID,
    contact_id: uuid.UUID,
    deadline_id: uuid.UUID | None,
) -> str:
    payload = _LAYOUT.pack(
        _VERSION,
        _PURPOSE_CODES[purpose],
        expires,
        token_id,
        item_id.bytes,
        contact_id.bytes,
        (deadline_id or _NO_DEADLINE).bytes,
    )
    return f"{_b64(payload)}.{_b64(hmac.digest(key, payload, 'sha256'))}"


def sign(secret: str, link: ActionLink) -> str:
    """The token carrying this link, signed with the secret."""
    return _token(
        _key(secret),
        link.purpose,
        int(link.expires_at.timestamp()),
        link.token_id.bytes,
        link.item_id,
        link.contact_id,
        link.deadline_id,
    )


def verify(secret: str, token: str, now: datetime, purpose: Purpose | None = None) -> ActionLink:
    """The link a token carries: InvalidLink if it was altered, forged or is for another purpose; ExpiredLink
    once past its expiry."""
    key = _key(secret)
    refused = InvalidLink(
        "Ce lien n'est pas valide : il a peut-être été modifié ou mal copié. Utilisez le lien "
        "tel qu'il figure dans le courriel."
    )
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise refused
    encoded_payload, encoded_mac = token.split(".")
    try:
        payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        raise refused from None
    # Canonical encoding only: base64 tolerates variants (trailing bits) that would make one link many.
    if _b64(payload) != encoded_payload or _b64(mac) != encoded_mac:
        raise refused
    if not hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).digest(), mac):
        raise refused
    if len(payload) != _LAYOUT.size:
        raise refused
    version, code, expires, token_id, item_id, contact_id, deadline_id = _LAYOUT.unpack(payload)
    if version != _VERSION or code not in _PURPOSES_BY_CODE:
        raise refused
    link = ActionLink(
        purpose=_PURPOSES_BY_CODE[code],
        token_id=uuid.UUID(bytes=token_id),
        item_id=uuid.UUID(bytes=item_id),
        contact_id=uuid.UUID(bytes=contact_id),
        deadline_id=None if deadline_id == _NO_DEADLINE.bytes else uuid.UUID(bytes=deadline_id),
        expires_at=datetime.fromtimestamp(expires, UTC),
    )
    if purpose is not None and link.purpose is not purpose:
        raise refused
    if now >= link.expires_at:
        raise ExpiredLink(
            "Ce lien a expiré. Les liens des courriels de rappel sont valables un temps limité : "
            "utilisez ceux du dernier rappel reçu, ou répondez directement à la Ville."
        )
    return link


def new_link(
    purpose: Purpose,
    item_id: uuid.UUID,
    contact_id: uuid.UUID,
    deadline_id: uuid.UUID | None,
    expires_at: datetime,
) -> ActionLink:
    """A fresh link with its own random token id (the id recorded when the link is used)."""
    # Whole seconds: the token stores the expiry as an integer.
    expires_at = datetime.fromtimestamp(int(expires_at.timestamp()), UTC)
    return ActionLink(
        purpose, uuid.UUID(bytes=secrets.token_bytes(16)), item_id, contact_id, deadline_id, expires_at
    )


def page_url(settings: NotificationsSettings, token: str) -> str:
    """The public address of the page a token opens."""
    return f"{settings.public_base_url.rstrip('/')}/actions/{token}"


def action_links(
    settings: NotificationsSettings,
    item_id: uuid.UUID,
    contact_id: uuid.UUID,
    deadline_id: uuid.UUID | None,
    now: datetime,
) -> dict[str, str]:
    """The signed links of one reminder to one contact, by purpose (no « new date » without a deadline)."""
    # What sign(new_link(…)) does for each purpose, with what the links share worked out once (four a mail).
    key = _key(settings.action_link_secret)
    expires = int((now + timedelta(days=settings.action_link_lifetime_days)).timestamp())
    purposes = [purpose for purpose in Purpose if purpose is not Purpose.NEW_DATE or deadline_id is not None]
    randomness = secrets.token_bytes(16 * len(purposes))  # one random token id per link
    return {
        purpose.value: page_url(
            settings,
            _token(
                key,
                purpose,
                expires,
                randomness[16 * index : 16 * index + 16],
                item_id,
                contact_id,
                deadline_id,
            ),
        )
        for index, purpose in enumerate(purposes)
    }
