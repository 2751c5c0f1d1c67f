"""API keys verified by the commitments service (GET /v1/auth/whoami), cached a few seconds per process.

The cache is keyed by the SHA-256 of the key, never the key itself; an `api_key.revoked` event evicts a
key at once, and the cache lifetime (5 s by default) bounds the delay should the event be late."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field

import httpx

from shared.auth import Principal, Role
from shared.problems import ServiceUnavailable, Unauthorized


@dataclass
class KeyVerifier:
    http: httpx.AsyncClient  # based at the commitments service's URL
    ttl_seconds: float = 5.0
    _entries: dict[str, tuple[float, Principal]] = field(default_factory=dict)

    async def verify(self, secret: str) -> Principal:
        """The principal behind a key, or Unauthorized (ServiceUnavailable when nobody can say)."""
        key_hash = hashlib.sha256(secret.encode()).hexdigest()
        hit = self._entries.get(key_hash)
        if hit is not None and hit[0] >= time.monotonic():
            return hit[1]
        self._entries.pop(key_hash, None)
        try:
            response = await self.http.get("/v1/auth/whoami", headers={"Authorization": f"Bearer {secret}"})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("Le service des engagements ne répond pas : impossible de vérifier la clé.") \
                from exc
        if response.status_code in (401, 403):
            raise Unauthorized("Clé d'API inconnue ou révoquée.")
        if response.status_code != 200:
            raise ServiceUnavailable("Le service des engagements n'a pas pu vérifier la clé.")
        body = response.json()
        if not body.get("active") or body.get("role") not in {role.value for role in Role}:
            raise Unauthorized("Clé d'API inconnue ou révoquée.")
        principal = Principal(
            role=Role(body["role"]),
            key_id=uuid.UUID(body["key_id"]) if body.get("key_id") else None,
            partner_id=uuid.UUID(body["partner_id"]) if body.get("partner_id") else None,
            visible_partner_ids=frozenset(uuid.UUID(value) for value in body.get("visible_partner_ids") or []))
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key_hash] = (time.monotonic() + self.ttl_seconds, principal)
        return principal

    def forget_key(self, key_id: uuid.UUID) -> None:
        """Drop a revoked key now rather than when its entry expires."""
        for key_hash, (_, principal) in list(self._entries.items()):
            if principal.key_id == key_id:
                del self._entries[key_hash]
