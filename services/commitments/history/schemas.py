from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "entity_type": "item",
                    "entity_id": "01a214bb-8702-7000-abee-62cd37c4247e",
                    "action": "transition",
                    "actor_kind": "api_key",
                    "actor_id": "01a214bb-8702-7000-abee-62cd37c4247d",
                    "at": "2026-03-02T09:00:00Z",
                    "changes": {"status": ["sent", "accepted"]},
                }
            ]
        },
    )

    id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    action: str
    actor_kind: str
    actor_id: str | None
    at: datetime
    changes: dict[str, Any]
