"""Standard Webhooks signatures (https://www.standardwebhooks.com): secrets, and the three headers of a POST.

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 with the secret's bytes, sent as
`webhook-signature: v1,<base64>`. The id is the event id, so a receiver deduplicates retries by it; the
timestamp is the attempt's, so a receiver can refuse replays of old requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

SECRET_PREFIX = "whsec_"
# 32 random bytes: the key size of HMAC-SHA256, what the specification recommends (between 24 and 64).
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, `whsec_` and the base64 of random bytes (shown to the subscriber once)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_…` secret stands for."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one request: `v1,<base64 HMAC-SHA256>`."""
    signed = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(
    secrets_in_use: Sequence[str], message_id: str, sent_at: datetime, body: bytes
) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature` for a POST of `body`: one
    signature per secret in use, space-separated (the current one, and the previous one during a rotation)."""
    timestamp = int(sent_at.timestamp())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(secret, message_id, timestamp, body) for secret in secrets_in_use),
    }
