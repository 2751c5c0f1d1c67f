"""API keys: creation, revocation, and turning a presented secret into a Principal."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from services.commitments.auth import repository
from services.commitments.auth.keys import display_prefix, generate_key, hash_key
from services.commitments.auth.models import ApiKey
from services.commitments.history.service import record_change
from services.commitments.outbox.recorder import record_event
from services.commitments.partners import repository as partners_repository
from shared.auth import Principal, Role
from shared.clock import Clock, paris_today
from shared.events.commitments import ApiKeyCreated, ApiKeyRevoked
from shared.problems import Forbidden, InvalidInput, NotFound, Unauthorized
from shared.single_flight import SingleFlight


@dataclass
class PrincipalCache:
    """Resolved keys kept a few seconds per process; a revocation here clears it at once, and other
    replicas drop the key on the `api_key.revoked` event or when the entry expires. Concurrent requests with a
    key not in the cache share one look-up (single flight), and a refused key is remembered briefly too (at most
    as long), so that a burst with a bad key does not become a burst of queries."""

    ttl_seconds: float = 5.0
    refusal_ttl_seconds: float = 5.0  # a refused key is remembered min(this, ttl_seconds)
    # key hash -> (expiry, the principal, or None when refused)
    _entries: dict[str, tuple[float, Principal | None]] = field(default_factory=dict)
    _looking_up: SingleFlight[str, Principal | None] = field(default_factory=SingleFlight)
    _revocations: int = 0  # bumped by each forget_key: a look-up begun before it is not kept

    def get(self, key_hash: str) -> Principal | _Miss | None:
        """The principal, None for a key known to be refused, or MISS."""
        hit = self._entries.get(key_hash)
        if hit is None or hit[0] < time.monotonic():
            self._entries.pop(key_hash, None)
            return MISS
        return hit[1]

    def put(self, key_hash: str, principal: Principal | None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        lifetime = (
            self.ttl_seconds if principal is not None else min(self.ttl_seconds, self.refusal_ttl_seconds)
        )
        self._entries[key_hash] = (time.monotonic() + lifetime, principal)

    async def resolve(
        self, key_hash: str, look_up: Callable[[], Awaitable[Principal | None]]
    ) -> Principal | None:
        """The cached answer for a key, or `look_up()`'s, shared with the concurrent requests for the same key
        and kept (unless a key was revoked meanwhile: the answer may predate it)."""
        cached = self.get(key_hash)
        if not isinstance(cached, _Miss):
            return cached

        async def look_up_and_keep() -> Principal | None:
            revocations = self._revocations
            principal = await look_up()
            if revocations == self._revocations:
                self.put(key_hash, principal)
            return principal

        return await self._looking_up.run(key_hash, look_up_and_keep)

    def forget_key(self, key_id: uuid.UUID) -> None:
        self._revocations += 1
        for key_hash, (_, principal) in list(self._entries.items()):
            if principal is not None and principal.key_id == key_id:
                del self._entries[key_hash]

    def clear(self) -> None:
        self._entries.clear()


class _Miss:
    """Not in the cache (None means a refused key)."""


MISS = _Miss()


async def authenticate(session: AsyncSession, cache: PrincipalCache, secret: str) -> Principal:
    """The principal behind an API key secret, or Unauthorized."""
    key_hash = hash_key(secret)
    principal = await cache.resolve(key_hash, lambda: _principal_of(session, key_hash))
    if principal is None:
        raise Unauthorized("Clé d'API inconnue ou révoquée.")
    return principal


async def _principal_of(session: AsyncSession, key_hash: str) -> Principal | None:
    key = await repository.get_active_by_hash(session, key_hash)
    if key is None:
        return None
    visible: frozenset[uuid.UUID] = frozenset()
    if key.partner_id is not None:
        visible = frozenset({key.partner_id, *await repository.groups_of(session, key.partner_id)})
    return Principal(
        role=Role(key.role), key_id=key.id, partner_id=key.partner_id, visible_partner_ids=visible
    )


async def act_as_contact(
    session: AsyncSession, principal: Principal, clock: Clock, contact_id: uuid.UUID
) -> Principal:
    """A service key acting for one contact (a signed link clicked by that person): from here on the caller is
    that contact's partner, with exactly a partner key's rights, and the history names the contact."""
    if principal.role is not Role.SERVICE:
        raise Forbidden("L'en-tête X-Acting-Contact est réservé aux clés de service.")
    contact = await repository.get_contact(session, contact_id)
    today = paris_today(clock)
    if (
        contact is None
        or contact.erased_at is not None
        or (contact.active_from is not None and today < contact.active_from)
        or (contact.active_to is not None and contact.active_to < today)
    ):
        raise Forbidden("X-Acting-Contact ne désigne aucun contact actif.")
    visible = frozenset({contact.partner_id, *await repository.groups_of(session, contact.partner_id)})
    return Principal(
        role=Role.PARTNER,
        key_id=principal.key_id,
        partner_id=contact.partner_id,
        visible_partner_ids=visible,
        contact_id=contact.id,
    )


@dataclass
class KeyAuthenticator:
    """The caller behind a key, as `dependencies.current_principal` asks for it
    (`app.state.authenticator`)."""

    cache: PrincipalCache

    async def principal(self, session: AsyncSession, secret: str) -> Principal:
        return await authenticate(session, self.cache, secret)

    async def acting_as(
        self, session: AsyncSession, principal: Principal, clock: Clock, contact_id: uuid.UUID
    ) -> Principal:
        return await act_as_contact(session, principal, clock, contact_id)


async def create_key(
    session: AsyncSession,
    actor: Principal,
    clock: Clock,
    *,
    name: str,
    role: Role,
    partner_id: uuid.UUID | None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never shown again."""
    if (role is Role.PARTNER) != (partner_id is not None):
        raise InvalidInput(
            "partner_id : une clé « partner » doit désigner un partenaire, et seules celles-là."
        )
    if partner_id is not None and await partners_repository.get(session, partner_id) is None:
        raise NotFound("Partenaire introuvable.")
    secret = generate_key()
    key = ApiKey(
        name=name,
        prefix=display_prefix(secret),
        key_hash=hash_key(secret),
        role=role.value,
        partner_id=partner_id,
        created_at=clock.now(),
    )
    session.add(key)
    await session.flush()
    record_change(
        session,
        actor,
        clock,
        entity_type="api_key",
        entity_id=key.id,
        action="created",
        changes={"name": name, "role": role.value, "partner_id": partner_id},
    )
    record_event(session, ApiKeyCreated(key_id=key.id, role=role.value, partner_id=partner_id), actor, clock)
    return key, secret


async def revoke_key(
    session: AsyncSession, cache: PrincipalCache, actor: Principal, clock: Clock, key_id: uuid.UUID
) -> ApiKey:
    """Revoke a key now; its `api_key.revoked` event tells the other services."""
    key = await repository.get(session, key_id)
    if key is None:
        raise NotFound("Clé d'API introuvable.")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        record_change(
            session,
            actor,
            clock,
            entity_type="api_key",
            entity_id=key.id,
            action="revoked",
            changes={"revoked_at": key.revoked_at},
        )
        record_event(session, ApiKeyRevoked(key_id=key.id), actor, clock)
    cache.forget_key(key.id)
    return key


async def list_keys(session: AsyncSession) -> Sequence[ApiKey]:
    """Every key, revoked ones included, without secrets."""
    return await repository.list_keys(session)
