"""Who is calling, the same way in every service: the roles, the principal a key stands for, the bearer
header, and the role check. Only the commitments service holds key hashes; the others learn a key's
principal from its `GET /v1/auth/whoami` (README, "How the other services verify the same keys")."""

# No `from __future__ import annotations`: FastAPI must see require_roles' dependency as an object, not as
# a string naming a closure variable it cannot resolve.
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends

from shared.events import Actor
from shared.problems import Forbidden, Unauthorized
from shared.roles import Role

__all__ = ["SYSTEM", "Principal", "Role", "bearer_secret", "role_guard"]


@dataclass(frozen=True)
class Principal:
    role: Role
    key_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    # The partner itself plus every group it belongs to: what "its own items" are reached through.
    visible_partner_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    contact_id: uuid.UUID | None = None

    @property
    def is_partner(self) -> bool:
        return self.role is Role.PARTNER

    @property
    def can_edit(self) -> bool:
        return self.role in (Role.ADMIN, Role.CITY)

    def may_see_partner(self, partner_id: uuid.UUID | None) -> bool:
        """A partner key sees only its own organisation's things; every other role sees all."""
        return not self.is_partner or (partner_id is not None and partner_id in self.visible_partner_ids)

    @property
    def actor(self) -> Actor:
        if self.contact_id is not None:
            return Actor(kind="contact", id=str(self.contact_id), role=self.role.value)
        if self.key_id is None:
            return Actor(kind="system", role=self.role.value)
        return Actor(kind="api_key", id=str(self.key_id), role=self.role.value)


# The service itself as a caller: the deadline scanner, the command line, an import. The history names it
# "system" (no key behind it).
SYSTEM = Principal(role=Role.ADMIN)


def bearer_secret(authorization: str | None, x_api_key: str | None) -> str:
    """The key behind `Authorization: Bearer <key>` (or `X-API-Key`), or Unauthorized."""
    secret = x_api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("En-tête Authorization attendu : « Bearer <clé d'API> ».")
        secret = value.strip()
    if not secret:
        raise Unauthorized("Clé d'API manquante (en-tête Authorization: Bearer <clé>).")
    return secret


def role_guard(current_principal: Callable[..., Awaitable[Principal]]) -> Callable[..., Any]:
    """`require_roles(*roles)` for a service whose caller comes from `current_principal`: a dependency that
    lets only the given roles through (403 otherwise)."""

    def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
        async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
            if principal.role not in roles:
                allowed = ", ".join(role.value for role in roles)
                raise Forbidden(f"Action réservée aux rôles : {allowed}.")
            return principal

        return check

    return require_roles
