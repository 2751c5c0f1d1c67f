"""The reporting service's client of the commitments service over real HTTP: a key's principal (a partner key
with its organisation), a refused key, and the commitments service away (a French 503, never a refusal)."""

from __future__ import annotations

import uuid

import pytest

from services.reporting.commitments_client import CommitmentsClient
from shared.auth import Role
from shared.bus import StreamSpec
from shared.problems import ServiceUnavailable
from tests.ports import free_port
from tests.responses import ok
from tests.services.notifications.served_commitments import Commitments
from tests.services.reporting.conftest import reporting_settings


async def test_whoami_answers_the_principal_or_none(
    commitments: Commitments, nats_url: str, streams: tuple[StreamSpec, StreamSpec]
) -> None:
    async with commitments.client(commitments.admin_secret) as admin:
        partner = ok(
            await admin.post("/v1/partners", json={"name": "Bailleur A", "kind": "bailleur_social"})
        )["id"]
    _, secret = await commitments.make_key(Role.PARTNER, partner)
    client = CommitmentsClient.from_settings(
        reporting_settings("sqlite://", nats_url, streams, commitments_url=commitments.url)
    )
    try:
        principal = await client.whoami(secret)
        assert principal is not None and principal.role is Role.PARTNER
        assert (
            principal.partner_id == uuid.UUID(partner) and uuid.UUID(partner) in principal.visible_partner_ids
        )
        admin_principal = await client.whoami(commitments.admin_secret)
        assert admin_principal is not None and admin_principal.role is Role.ADMIN
        assert await client.whoami("eng_not_a_key") is None
    finally:
        await client.aclose()


async def test_the_commitments_service_away_is_a_french_503(
    nats_url: str, streams: tuple[StreamSpec, StreamSpec]
) -> None:
    settings = reporting_settings(
        "sqlite://",
        nats_url,
        streams,
        commitments_url=f"http://127.0.0.1:{free_port()}",
        commitments_attempts=2,
        commitments_retry_initial_seconds=0.01,
    )
    client = CommitmentsClient.from_settings(settings)
    try:
        with pytest.raises(ServiceUnavailable) as away:
            await client.whoami("eng_any")
    finally:
        await client.aclose()
    assert away.value.status == 503 and "Le service des engagements" in away.value.detail
