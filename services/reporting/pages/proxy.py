"""Sign-in by the intranet's authenticating reverse proxy (off unless PAGES_TRUSTED_HEADER is set): the header
names the user, the request must come straight from one of PAGES_TRUSTED_PROXIES, and PAGES_TRUSTED_USERS says
what that user may see ("admin", "city", "reader", or "partner:<id>")."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass

from fastapi import Request

from services.reporting.config import ReportingSettings
from shared.auth import Role

STAFF_ROLES = {Role.ADMIN.value, Role.CITY.value, Role.READER.value}


@dataclass(frozen=True)
class ProxyUser:
    name: str
    role: Role | None  # None: a user the configuration does not map (refused)
    partner_id: uuid.UUID | None = None


def _from_trusted_proxy(request: Request, proxies: list[str]) -> bool:
    if request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _mapped(name: str, mapping: str | None) -> ProxyUser:
    if mapping in STAFF_ROLES:
        return ProxyUser(name, Role(mapping))
    if mapping is not None and mapping.startswith("partner:"):
        try:
            return ProxyUser(name, Role.PARTNER, uuid.UUID(mapping.removeprefix("partner:")))
        except ValueError:
            pass
    return ProxyUser(name, None)


def proxy_user(request: Request, settings: ReportingSettings) -> ProxyUser | None:
    """The user the trusted proxy names, or None (the mode is off, the header is absent, or the request did not
    come from a trusted proxy: its header is then ignored)."""
    if not settings.pages_trusted_header:
        return None
    name = request.headers.get(settings.pages_trusted_header, "").strip()
    if not name or not _from_trusted_proxy(request, settings.pages_trusted_proxies):
        return None
    return _mapped(name, settings.pages_trusted_users.get(name))
