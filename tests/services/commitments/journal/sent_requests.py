"""A request sent to a partner, built through the API, for the journal tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx

from tests.responses import ok


async def sent_request(
    admin: httpx.AsyncClient,
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    lead: Any,
    associated: Iterable[Any] = (),
    sent_on: str | None = None,
) -> str:
    """The id of a request led by `lead` (with these associated partners), sent on `sent_on` (today when
    None)."""
    item = ok(
        await admin.post(
            "/v1/items",
            json={
                "objective_id": str(await make_objective()),
                "kind": "request",
                "title": "Centre commercial",
                "plan_text": "La Ville demande au bailleur de rénover le centre commercial.",
                "lead_partner_id": str(lead),
                "associated_partner_ids": [str(p) for p in associated],
            },
        )
    )
    sending = {"to": "sent", "letter_reference": "L1"} | ({"on": sent_on} if sent_on else {})
    ok(await admin.post(f"/v1/items/{item['id']}/transitions", json=sending))
    return str(item["id"])
