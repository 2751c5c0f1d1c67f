"""Who is calling, as the commitments service (the only holder of key hashes) described the key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    CITY = "city"
    PARTNER = "partner"
    READER = "reader"
    SERVICE = "service"


@dataclass(frozen=True)
class Principal:
    role: Role
    key_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    # The partner itself plus every group it belongs to.
    visible_partner_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    @property
    def is_partner(self) -> bool:
        return self.role is Role.PARTNER

    def may_see_partner(self, partner_id: uuid.UUID | None) -> bool:
        """A partner key sees only its own organisation's things; every other role sees all."""
        return not self.is_partner or (partner_id is not None and partner_id in self.visible_partner_ids)
