"""The commitments service as the reporting service calls it: one client per process, for the key checks
(`GET /v1/auth/whoami`). The read model comes from events; only who is calling is asked at once over HTTP.

Timeouts, the connection pool, retries of idempotent calls and the French errors come from
shared/service_client.py; this module says which calls exist and what their refusals mean here."""

from __future__ import annotations

import uuid

import httpx

from services.reporting.config import ReportingSettings
from shared.auth import Principal
from shared.key_checks import ask_whoami
from shared.service_client import ServiceClient

NAME = "Le service des engagements"


class CommitmentsClient:
    """The commitments service, for the reporting service (the caller's own key)."""

    def __init__(self, service: ServiceClient) -> None:
        self.service = service

    @classmethod
    def from_settings(
        cls, settings: ReportingSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> CommitmentsClient:
        """The process's client (COMMITMENTS_URL and the COMMITMENTS_* call settings)."""
        return cls(ServiceClient(settings.commitments_url, NAME, settings.commitments_policy(), transport))

    async def aclose(self) -> None:
        await self.service.aclose()

    async def whoami(self, secret: str) -> Principal | None:
        """The principal behind a key; None when the commitments service refuses it (unknown, revoked)."""
        return await ask_whoami(self.service, secret)

    async def check_contact_visible(self, contact_id: uuid.UUID, secret: str) -> None:
        """NotFound (in the commitments service's words) unless the holder of `secret` may see this contact: a
        calendar feed is made for a city owner the commitments service knows."""
        await self.service.call(
            "GET", f"/v1/contacts/{contact_id}", headers={"Authorization": f"Bearer {secret}"}
        )
