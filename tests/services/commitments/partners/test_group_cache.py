"""Item listing by partner reads group memberships from a per-process cache: a membership changed through
this process shows at the next request, not after the cache lifetime."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx


async def test_a_new_group_shows_at_once_in_the_listing_by_member(
    admin: httpx.AsyncClient,
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    plan_of: Callable[[uuid.UUID], Awaitable[uuid.UUID]],
) -> None:
    member = await make_partner("Hauts-de-Seine Habitat")
    listing = await admin.get("/v1/items", params={"partner_id": str(member)})
    assert listing.status_code == 200 and listing.json()["items"] == []  # the cache now holds the memberships

    objective = await make_objective()
    group = await admin.post(
        "/v1/partners",
        json={
            "name": "Les bailleurs sociaux",
            "kind": "group",
            "is_group": True,
            "member_ids": [str(member)],
            "scope_plan_id": str(await plan_of(objective)),
        },
    )
    assert group.status_code == 201, group.text
    item = await admin.post(
        "/v1/items",
        json={
            "objective_id": str(objective),
            "kind": "request",
            "title": "Requalification",
            "plan_text": "La Ville demande aux bailleurs sociaux de requalifier leur patrimoine.",
            "lead_partner_id": group.json()["id"],
        },
    )
    assert item.status_code == 201, item.text
    listing = await admin.get("/v1/items", params={"partner_id": str(member)})
    assert [found["id"] for found in listing.json()["items"]] == [item.json()["id"]]

    # Leaving the group shows at once too.
    left = await admin.patch(f"/v1/partners/{group.json()['id']}", json={"member_ids": []})
    assert left.status_code == 200, left.text
    assert (await admin.get("/v1/items", params={"partner_id": str(member)})).json()["items"] == []
