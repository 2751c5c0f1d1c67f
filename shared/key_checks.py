"""API keys verified by the commitments service (GET /v1/auth/whoami), cached a few seconds per process: the
same in every service that is not the commitments service (notifications, reporting), each through its own
client of the commitments service.

The cache is keyed by the SHA-256 of the key, never the key itself; an `api_key.revoked` event evicts a
key at once, and the cache lifetime (5 s by default) bounds the delay should the event be late. Concurrent
requests with a key not in the cache share one `whoami` (single flight); a refused key is remembered briefly
too (at most the same lifetime), so that a burst of requests with a bad key does not become a burst of
`whoami`. An error (the commitments service unreachable or failing, after the client's retries) is never
remembered."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from shared.auth import Principal, Role
from shared.problems import DomainError, Forbidden, ServiceUnavailable, Unauthorized
from shared.service_client import ServiceClient
from shared.single_flight import SingleFlight

REFUSED = "Clé d'API inconnue ou révoquée."


async def ask_whoami(commitments: ServiceClient, secret: str) -> Principal | None:
    """Ask the commitments service (through a service's client of it) who a key is: the principal, or None when
    it refuses the key (unknown, revoked); ServiceUnavailable when it gives no answer about the key."""
    try:
        response = await commitments.call(
            "GET", "/v1/auth/whoami", headers={"Authorization": f"Bearer {secret}"}
        )
    except (Unauthorized, Forbidden):
        return None
    except ServiceUnavailable:
        raise
    except DomainError as exc:  # not an answer about the key
        raise ServiceUnavailable(
            f"{commitments.name} n'a pas pu vérifier la clé (HTTP {exc.status})."
        ) from exc
    body = response.json()
    if not body.get("active") or body.get("role") not in {role.value for role in Role}:
        return None
    visible = frozenset(uuid.UUID(value) for value in body.get("visible_partner_ids") or ())
    return Principal(
        role=Role(body["role"]),
        key_id=uuid.UUID(body["key_id"]) if body.get("key_id") else None,
        partner_id=uuid.UUID(body["partner_id"]) if body.get("partner_id") else None,
        visible_partner_ids=visible,
    )


class AsksWhoami(Protocol):
    """A service's client of the commitments service."""

    async def whoami(self, secret: str) -> Principal | None:
        """The principal behind a key; None when the commitments service refuses it."""
        ...


@dataclass
class KeyVerifier:
    commitments: AsksWhoami
    ttl_seconds: float = 5.0
    refusal_ttl_seconds: float = 5.0  # a refused key is remembered min(this, ttl_seconds)
    # key hash -> (expiry, the principal, or None when refused)
    _entries: dict[str, tuple[float, Principal | None]] = field(default_factory=dict)
    _asking: SingleFlight[str, Principal | None] = field(default_factory=SingleFlight)
    _revocations: int = 0  # bumped by each forget_key: an answer asked for before it is not kept

    async def verify(self, secret: str) -> Principal:
        """The principal behind a key, or Unauthorized (ServiceUnavailable when nobody can say)."""
        key_hash = hashlib.sha256(secret.encode()).hexdigest()
        hit = self._entries.get(key_hash)
        if hit is not None and hit[0] >= time.monotonic():
            principal = hit[1]
        else:
            self._entries.pop(key_hash, None)
            principal = await self._asking.run(key_hash, lambda: self._ask(key_hash, secret))
        if principal is None:
            raise Unauthorized(REFUSED)
        return principal

    async def _ask(self, key_hash: str, secret: str) -> Principal | None:
        """Ask the commitments service, and remember its answer (a principal, or None for a refusal)."""
        revocations = self._revocations
        principal = await self.commitments.whoami(secret)
        if revocations == self._revocations:  # else a revocation came meanwhile: this answer may predate it
            self._remember(key_hash, principal)
        return principal

    def _remember(self, key_hash: str, principal: Principal | None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        lifetime = (
            self.ttl_seconds if principal is not None else min(self.ttl_seconds, self.refusal_ttl_seconds)
        )
        self._entries[key_hash] = (time.monotonic() + lifetime, principal)

    def forget_key(self, key_id: uuid.UUID) -> None:
        """Drop a revoked key now rather than when its entry expires."""
        self._revocations += 1
        for key_hash, (_, principal) in list(self._entries.items()):
            if principal is not None and principal.key_id == key_id:
                del self._entries[key_hash]
