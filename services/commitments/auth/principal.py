"""Who is calling: a role, and for a partner key the partner (and the groups it belongs to)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from shared.events import Actor


class Role(StrEnum):
    ADMIN = "admin"
    CITY = "city"
    PARTNER = "partner"
    READER = "reader"
    # The other services' own key: reads like `reader`, may read who to write to about an item, and may act
    # on behalf of one contact (header X-Acting-Contact) — then it is that contact's partner, nothing more.
    SERVICE = "service"


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

    @property
    def actor(self) -> Actor:
        if self.contact_id is not None:
            return Actor(kind="contact", id=str(self.contact_id), role=self.role.value)
        if self.key_id is None:
            return Actor(kind="system", role=self.role.value)
        return Actor(kind="api_key", id=str(self.key_id), role=self.role.value)


SYSTEM = Principal(role=Role.ADMIN)
