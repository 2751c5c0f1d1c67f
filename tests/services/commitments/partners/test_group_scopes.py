"""Groups belong to a plan or a territory: a request to "les bailleurs sociaux" of plan B never reaches a member
of the group of that name of plan A — not through a partner key, the reminders' recipients, nor the events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import select

from services.commitments.outbox.models import OutboxMessage
from shared.auth import Role
from tests.responses import ok

PLAN_B_TEXT = """PLAN D'ACTION DU QUARTIER B

I. BIEN VIVRE AU QUARTIER B

A | RÉNOVER LES RÉSIDENCES

- La Ville demande aux bailleurs sociaux de rénover les halls des résidences
"""


async def _plan(admin: httpx.AsyncClient, title: str, territory: str) -> tuple[str, str]:
    plan = ok(
        await admin.post("/v1/plans", json={"title": title, "commune": "Sceaux", "territory": territory})
    )
    axis = ok(await admin.post(f"/v1/plans/{plan['id']}/axes", json={"number": "I", "title": "AXE"}))
    objective = ok(
        await admin.post(f"/v1/axes/{axis['id']}/objectives", json={"letter": "A", "title": "OBJECTIF"})
    )
    return plan["id"], objective["id"]


async def _request(admin: httpx.AsyncClient, objective: str, lead: str, **fields: Any) -> httpx.Response:
    return await admin.post(
        "/v1/items",
        json={
            "objective_id": objective,
            "kind": "request",
            "title": "Requalification",
            "plan_text": "La Ville demande aux bailleurs sociaux de requalifier leur patrimoine.",
            "lead_partner_id": lead,
            **fields,
        },
    )


async def _events(app: Any, event_type: str) -> list[dict[str, Any]]:
    async with app.state.sessionmaker() as session:
        rows = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.event_type == event_type))
        ).all()
    return [
        json.loads(row.payload)["data"] if isinstance(row.payload, str) else row.payload["data"]
        for row in rows
    ]


async def test_a_request_to_plan_bs_group_never_reaches_plan_as_member(
    app,
    admin: httpx.AsyncClient,
    make_key: Callable[..., Awaitable[str]],
    client_for: Callable[[str | None], httpx.AsyncClient],
) -> None:
    plan_a, objective_a = await _plan(admin, "Plan A", "Quartier A")
    member = ok(await admin.post("/v1/partners", json={"name": "Bailleur M", "kind": "bailleur_social"}))
    contact = ok(
        await admin.post(
            f"/v1/partners/{member['id']}/contacts",
            json={"last_name": "Martin", "email": "martin@bailleur-m.example"},
        )
    )
    group_a = ok(
        await admin.post(
            "/v1/partners",
            json={
                "name": "Bailleurs sociaux",
                "kind": "group",
                "member_ids": [member["id"]],
                "scope_plan_id": plan_a,
            },
        )
    )
    item_a = ok(await _request(admin, objective_a, group_a["id"]))

    # Plan B, imported: "les bailleurs sociaux" there are not plan A's.
    report = ok(
        await admin.post(
            "/v1/plans/import", json={"text": PLAN_B_TEXT, "commune": "Sceaux", "territory": "Quartier B"}
        )
    )
    [group_b] = [
        p
        for p in ok(await admin.get("/v1/partners", params={"kind": "group"}))
        if p["scope_plan_id"] == report["plan_id"]
    ]
    assert group_b["id"] != group_a["id"] and group_b["member_ids"] == []
    [flagged] = report["flagged"]
    assert {"partner-created", "group-without-members"} <= {f["code"] for f in flagged["flags"]}
    item_b = ok(await admin.get("/v1/items", params={"plan_id": report["plan_id"]}))["items"][0]
    assert item_b["lead_partner_id"] == group_b["id"]

    # M's key sees plan A's request (through its group), not plan B's.
    partner = client_for(await make_key(Role.PARTNER, uuid.UUID(member["id"])))
    assert [i["id"] for i in ok(await partner.get("/v1/items"))["items"]] == [item_a["id"]]
    assert (await partner.get(f"/v1/items/{item_b['id']}")).status_code == 404
    assert ok(await partner.get("/v1/reminders/upcoming", params={"days": 365})) is not None

    # Reminders: M's liaison is written to about plan A's request only.
    service = client_for(await make_key(Role.SERVICE))
    recipients_a = ok(await service.get(f"/v1/items/{item_a['id']}/reminder-context"))["recipients"]
    recipients_b = ok(await service.get(f"/v1/items/{item_b['id']}/reminder-context"))["recipients"]
    assert [r["contact_id"] for r in recipients_a] == [contact["id"]]
    assert recipients_b == []

    # Events (webhooks, reporting): plan B's request names plan B's group, announced without members.
    created = {event["item_id"]: event for event in await _events(app, "item.created")}
    assert created[item_b["id"]]["lead_partner_id"] == group_b["id"]
    groups = {event["partner_id"]: event for event in await _events(app, "partner.created")}
    assert groups[group_b["id"]]["member_ids"] == [] and groups[group_a["id"]]["member_ids"] == [member["id"]]


async def test_an_item_cannot_name_another_plans_group(admin: httpx.AsyncClient) -> None:
    plan_a, objective_a = await _plan(admin, "Plan A", "Quartier A")
    plan_b, objective_b = await _plan(admin, "Plan B", "Quartier B")
    member = ok(await admin.post("/v1/partners", json={"name": "Bailleur M", "kind": "bailleur_social"}))
    group_a = ok(
        await admin.post(
            "/v1/partners",
            json={
                "name": "Bailleurs sociaux",
                "kind": "group",
                "member_ids": [member["id"]],
                "scope_plan_id": plan_a,
            },
        )
    )
    refused = await _request(admin, objective_b, group_a["id"])
    assert refused.status_code == 422 and "Bailleurs sociaux" in refused.json()["detail"]
    assert refused.json()["partner_id"] == group_a["id"]
    as_associated = await _request(admin, objective_b, member["id"], associated_partner_ids=[group_a["id"]])
    assert as_associated.status_code == 422
    item_b = ok(await _request(admin, objective_b, member["id"]))
    for change in ({"lead_partner_id": group_a["id"]}, {"associated_partner_ids": [group_a["id"]]}):
        response = await admin.patch(f"/v1/items/{item_b['id']}", json=change)
        assert response.status_code == 422, change
    assert ok(await admin.get(f"/v1/items/{item_b['id']}"))["lead_partner_id"] == member["id"]
    assert len(ok(await admin.get("/v1/items", params={"plan_id": plan_b}))["items"]) == 1

    # A group of a territory serves every plan of that territory, and only them.
    territory = ok(
        await admin.post(
            "/v1/partners",
            json={"name": "Communes voisines", "kind": "group", "scope_territory": "quartier b"},
        )
    )
    assert (await _request(admin, objective_b, territory["id"])).status_code == 201
    assert (await _request(admin, objective_a, territory["id"])).status_code == 422


async def test_a_groups_scope_is_checked_and_moves_only_where_its_items_stay_served(
    admin: httpx.AsyncClient,
) -> None:
    plan_a, objective_a = await _plan(admin, "Plan A", "Quartier A")
    plan_b, _ = await _plan(admin, "Plan B", "Quartier B")
    member = ok(await admin.post("/v1/partners", json={"name": "Bailleur M", "kind": "bailleur_social"}))
    for body in (
        {"name": "G", "kind": "group"},  # no scope
        {"name": "G", "kind": "group", "scope_plan_id": plan_a, "scope_territory": "Quartier A"},
        {"name": "G", "kind": "group", "scope_plan_id": "01a214bb-8702-7000-abee-62cd37c4247d"},
        {"name": "O", "kind": "association", "scope_plan_id": plan_a},
    ):
        response = await admin.post("/v1/partners", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (
        await admin.patch(f"/v1/partners/{member['id']}", json={"scope_territory": "Quartier A"})
    ).status_code == 422

    group = ok(
        await admin.post(
            "/v1/partners",
            json={
                "name": "Bailleurs sociaux",
                "kind": "group",
                "member_ids": [member["id"]],
                "scope_plan_id": plan_a,
            },
        )
    )
    assert (group["scope_plan_id"], group["scope_territory"]) == (plan_a, None)
    # Names are unique within a scope; another plan may have its own group of that name; no organisation may.
    same_scope = await admin.post(
        "/v1/partners", json={"name": "les bailleurs sociaux", "kind": "group", "scope_plan_id": plan_a}
    )
    assert same_scope.status_code == 409
    other_plan = ok(
        await admin.post(
            "/v1/partners", json={"name": "Bailleurs sociaux", "kind": "group", "scope_plan_id": plan_b}
        )
    )
    assert (
        await admin.post("/v1/partners", json={"name": "Bailleurs sociaux", "kind": "other"})
    ).status_code == 409
    assert (
        await admin.patch(f"/v1/partners/{other_plan['id']}", json={"scope_plan_id": plan_a})
    ).status_code == 409

    ok(await _request(admin, objective_a, group["id"]))
    moved = await admin.patch(f"/v1/partners/{group['id']}", json={"scope_plan_id": plan_b})
    assert moved.status_code == 409 and moved.json()["plan_ids"] == [plan_a]
    widened = ok(await admin.patch(f"/v1/partners/{group['id']}", json={"scope_territory": "Quartier A"}))
    assert (widened["scope_plan_id"], widened["scope_territory"]) == (None, "Quartier A")
    # Plan A may not leave the territory whose group its items name.
    assert (await admin.patch(f"/v1/plans/{plan_a}", json={"territory": "Quartier Z"})).status_code == 409
    assert (
        ok(await admin.patch(f"/v1/plans/{plan_a}", json={"title": "Plan A bis"}))["territory"]
        == "Quartier A"
    )
    assert (
        ok(await admin.patch(f"/v1/plans/{plan_b}", json={"territory": "Quartier Z"}))["territory"]
        == "Quartier Z"
    )
