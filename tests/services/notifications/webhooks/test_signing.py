"""Standard Webhooks signatures, checked by the reference implementation (`standardwebhooks`)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.notifications.webhooks.signing import SECRET_PREFIX, new_secret, secret_key, signature_headers


def test_a_secret_is_whsec_and_the_base64_of_32_random_bytes():
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) == 32
    assert secret_key(secret) == base64.b64decode(secret[len(SECRET_PREFIX) :])
    assert new_secret() != secret


def test_the_reference_implementation_verifies_our_signature_and_reads_the_body():
    secret = new_secret()
    body = json.dumps(
        {"id": "01a2", "type": "deadline.overdue", "data": {"titre": "Rénovation — été"}}, ensure_ascii=False
    ).encode()
    headers = signature_headers([secret], "evt-1", datetime.now(UTC), body)
    assert headers["webhook-id"] == "evt-1"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == json.loads(body)


def test_a_tampered_body_id_or_timestamp_or_another_secret_fails_verification():
    secret = new_secret()
    body = b'{"type":"item.created"}'
    headers = signature_headers([secret], "evt-1", datetime.now(UTC), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"type":"item.created "}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "evt-2"})
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(
            body, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}
        )
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_during_a_rotation_each_of_the_two_secrets_verifies_on_its_own():
    old, new = new_secret(), new_secret()
    body = b'{"type":"deadline.due"}'
    headers = signature_headers([new, old], "evt-9", datetime.now(UTC), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(body, headers)
    Webhook(old).verify(body, headers)


def test_the_timestamp_is_the_send_time_in_unix_seconds():
    sent_at = datetime(2026, 3, 2, 9, 0, 0, 750_000, tzinfo=UTC)
    headers = signature_headers([new_secret()], "evt-1", sent_at, b"{}")
    assert headers["webhook-timestamp"] == str(int(sent_at.timestamp()))
