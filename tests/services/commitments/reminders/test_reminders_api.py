"""The reminder rules API (plan → partner → item, who may read and write, bad input) and the upcoming preview
(content, scoping, re-arming after a rules change)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.commitments.reminders.models import ReminderFiring
from services.commitments.reminders.scanner import DeadlineScanner
from shared.auth import Role
from shared.clock import FixedClock
from tests.services.commitments.reminders.requests import ok, sent_request

DEFAULTS = {
    "enabled": True,
    "before_working_days": [10, 3, 1],
    "on_due_day": True,
    "after": {"first": 1, "every": 5},
    "escalation": {"late_after": 10, "very_late_after": 20, "repeats_after_very_late": 2},
    "sending_window": {"start": "08:30", "end": "18:00"},
}


async def _plan_id(admin: httpx.AsyncClient, item_id: str) -> str:
    return ok(await admin.get(f"/v1/items/{item_id}"))["plan_id"]  # type: ignore[no-any-return]


async def test_rules_merge_plan_then_partner_then_item_and_delete_inherits_again(
    app: FastAPI,
    admin: httpx.AsyncClient,
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
) -> None:
    partner = await make_partner("Hauts-de-Seine Habitat")
    request = await sent_request(admin, await make_objective(), partner, "2026-04-15")
    plan_id = await _plan_id(admin, request.item_id)
    item_url, partner_url = (
        f"/v1/items/{request.item_id}/reminder-rules",
        f"/v1/partners/{partner}/reminder-rules",
    )

    assert ok(await admin.get(item_url)) | {"effective": None} == {
        "scope": "item",
        "target_id": request.item_id,
        "override": None,
        "effective": None,
        "updated_at": None,
    }
    assert ok(await admin.get(item_url))["effective"] == DEFAULTS

    ok(
        await admin.put(
            f"/v1/plans/{plan_id}/reminder-rules",
            json={"before_working_days": [15, 5], "sending_window": {"start": "09:00", "end": "17:00"}},
        )
    )
    partner_rules = ok(
        await admin.put(
            partner_url,
            json={"escalation": {"late_after": 5, "very_late_after": 15, "repeats_after_very_late": 0}},
        )
    )
    assert partner_rules["effective"]["escalation"]["late_after"] == 5
    assert partner_rules["effective"]["before_working_days"] == [
        10,
        3,
        1,
    ]  # a partner's level alone: over defaults
    item_rules = ok(await admin.put(item_url, json={"before_working_days": [2]}))
    assert item_rules["override"] == {"before_working_days": [2]}
    assert item_rules["effective"] == {
        **DEFAULTS,
        "before_working_days": [2],
        "sending_window": {"start": "09:00", "end": "17:00"},
        "escalation": {"late_after": 5, "very_late_after": 15, "repeats_after_very_late": 0},
    }

    assert ok(await admin.delete(item_url))["override"] is None
    assert ok(await admin.delete(partner_url))["effective"] == DEFAULTS
    assert ok(await admin.delete(partner_url))["override"] is None  # nothing left to drop: still fine
    effective = ok(await admin.get(item_url))["effective"]
    assert effective["before_working_days"] == [15, 5] and effective["escalation"] == DEFAULTS["escalation"]


BAD_RULES: list[tuple[str, Any]] = [
    ("offset out of range", {"before_working_days": [0]}),
    ("offset too far", {"before_working_days": [61]}),
    ("duplicate offsets", {"before_working_days": [3, 3]}),
    ("offset as text", {"before_working_days": ["3"]}),
    ("too many steps", {"before_working_days": list(range(1, 12))}),
    ("repeat every 0", {"after": {"first": 1, "every": 0}}),
    ("half an after group", {"after": {"first": 1}}),
    (
        "very late before late",
        {"escalation": {"late_after": 10, "very_late_after": 10, "repeats_after_very_late": 2}},
    ),
    (
        "negative repeats",
        {"escalation": {"late_after": 10, "very_late_after": 20, "repeats_after_very_late": -1}},
    ),
    ("window end before start", {"sending_window": {"start": "18:00", "end": "08:30"}}),
    ("window as seconds", {"sending_window": {"start": 30600, "end": "18:00"}}),
    ("window hour 24", {"sending_window": {"start": "08:30", "end": "24:00"}}),
    ("window with an offset", {"sending_window": {"start": "08:30+02:00", "end": "18:00"}}),
    ("flag as text", {"enabled": "false"}),
    ("unknown field", {"remind_every_minute": True}),
    ("not an object", [1, 2]),
]


@pytest.mark.parametrize(("case", "body"), BAD_RULES, ids=[case for case, _ in BAD_RULES])
async def test_bad_rules_are_a_problem_422_and_change_nothing(
    admin: httpx.AsyncClient, make_partner: Callable[..., Awaitable[uuid.UUID]], case: str, body: Any
) -> None:
    partner = await make_partner("Préfecture")
    response = await admin.put(f"/v1/partners/{partner}/reminder-rules", json=body)
    assert response.status_code == 422, (case, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert ok(await admin.get(f"/v1/partners/{partner}/reminder-rules"))["override"] is None


async def test_rules_of_an_unknown_target_are_404(admin: httpx.AsyncClient) -> None:
    for url in (
        f"/v1/plans/{uuid.uuid4()}/reminder-rules",
        f"/v1/partners/{uuid.uuid4()}/reminder-rules",
        f"/v1/items/{uuid.uuid4()}/reminder-rules",
    ):
        assert (await admin.get(url)).status_code == 404
        assert (await admin.put(url, json={})).status_code == 404
    assert (await admin.get("/v1/reminders/upcoming", params={"days": 0})).status_code == 422


async def test_upcoming_shows_what_will_go_out_and_a_partner_sees_only_its_own(
    admin: httpx.AsyncClient,
    clock: FixedClock,
    make_scanner: Callable[..., DeadlineScanner],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    make_key: Callable[..., Awaitable[str]],
    client_for: Callable[[str | None], httpx.AsyncClient],
    firings: Callable[..., Awaitable[list[ReminderFiring]]],
) -> None:
    objective = await make_objective()
    mine, theirs = await make_partner("Hauts-de-Seine Habitat"), await make_partner("Vallée Sud Grand Paris")
    own = await sent_request(admin, objective, mine, "2026-03-05", title="Rénovation du centre commercial")
    other = await sent_request(admin, objective, theirs, "2026-03-06", title="Réseau de bus")
    # Clock: Monday 2 March 2026, 09:00 UTC. In the next 14 days: D-1, D, D+1, D+5 of the first (its D-3 was
    # this morning, before it was set); D-3, D-1, D, D+1, D+5 of the second.
    upcoming = ok(await admin.get("/v1/reminders/upcoming", params={"days": 14}))
    assert [(u["item_title"], u["step"], u["fire_at"]) for u in upcoming] == [
        ("Réseau de bus", "D-3", "2026-03-03T07:30:00Z"),
        ("Rénovation du centre commercial", "D-1", "2026-03-04T07:30:00Z"),
        ("Rénovation du centre commercial", "D", "2026-03-05T07:30:00Z"),
        ("Réseau de bus", "D-1", "2026-03-05T07:30:00Z"),
        ("Rénovation du centre commercial", "D+1", "2026-03-06T07:30:00Z"),
        ("Réseau de bus", "D", "2026-03-06T07:30:00Z"),
        ("Réseau de bus", "D+1", "2026-03-09T07:30:00Z"),
        ("Rénovation du centre commercial", "D+5", "2026-03-12T07:30:00Z"),
        ("Réseau de bus", "D+5", "2026-03-13T07:30:00Z"),
    ]
    first = upcoming[1]
    assert first == {
        "reminder_key": f"{own.deadline_id}:1:0:D-1",
        "event_type": "deadline.approaching",
        "fire_at": "2026-03-04T07:30:00Z",
        "step": "D-1",
        "offset_working_days": -1,
        "escalation": "none",
        "audience": ["liaison", "deputy"],
        "partner_ids": [str(mine)],
        "deadline_id": own.deadline_id,
        "deadline_kind": "response",
        "due_on": "2026-03-05",
        "deadline_version": 1,
        "item_id": own.item_id,
        "item_title": "Rénovation du centre commercial",
        "plan_id": first["plan_id"],
        "recipients": [],
    }
    assert len(ok(await admin.get("/v1/reminders/upcoming", params={"days": 3}))) == 4

    assert {u["recipients"] == [] for u in upcoming} == {True}  # nobody to write to: no contacts yet
    assert ok(await client_for(await make_key(Role.CITY)).get("/v1/reminders/upcoming")) == upcoming
    assert ok(await client_for(await make_key(Role.READER)).get("/v1/reminders/upcoming")) == [
        u | {"recipients": None} for u in upcoming
    ]
    partner = client_for(await make_key(Role.PARTNER, mine))
    assert {u["item_id"] for u in ok(await partner.get("/v1/reminders/upcoming"))} == {own.item_id}
    assert other.item_id not in (await partner.get("/v1/reminders/upcoming")).text

    # A rules change is reflected at once, and the scanner follows it.
    ok(
        await admin.put(
            f"/v1/items/{own.item_id}/reminder-rules", json={"before_working_days": [2], "on_due_day": False}
        )
    )
    steps = [u["step"] for u in ok(await admin.get("/v1/reminders/upcoming")) if u["item_id"] == own.item_id]
    assert steps == ["D-2", "D+1", "D+5"]
    clock.advance(timedelta(hours=23))  # Tuesday 08:00 UTC: the first's D-2 and the second's D-3 are due
    assert (await make_scanner().tick()).fired == 2
    assert [f.step for f in await firings(own.deadline_id)] == ["D-2"]


async def test_partner_keys_read_only_their_own_rules_and_write_none(
    admin: httpx.AsyncClient,
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    make_key: Callable[..., Awaitable[str]],
    client_for: Callable[[str | None], httpx.AsyncClient],
) -> None:
    mine, theirs = await make_partner("CSCB"), await make_partner("Département")
    objective = await make_objective()
    own, other = (
        await sent_request(admin, objective, mine, "2026-04-15"),
        await sent_request(admin, objective, theirs, "2026-04-15"),
    )
    partner = client_for(await make_key(Role.PARTNER, mine))
    reader = client_for(await make_key(Role.READER))
    assert ok(await partner.get(f"/v1/partners/{mine}/reminder-rules"))["scope"] == "partner"
    assert ok(await partner.get(f"/v1/items/{own.item_id}/reminder-rules"))["scope"] == "item"
    assert (await partner.get(f"/v1/partners/{theirs}/reminder-rules")).status_code == 404
    assert (await partner.get(f"/v1/items/{other.item_id}/reminder-rules")).status_code == 404
    assert (await partner.put(f"/v1/items/{other.item_id}/reminder-rules", json={})).status_code == 404
    assert (await partner.put(f"/v1/items/{own.item_id}/reminder-rules", json={})).status_code == 403
    assert (await partner.delete(f"/v1/partners/{mine}/reminder-rules")).status_code == 403
    assert (await reader.get(f"/v1/items/{other.item_id}/reminder-rules")).status_code == 200
    assert (await reader.put(f"/v1/items/{other.item_id}/reminder-rules", json={})).status_code == 403


async def test_upcoming_names_the_recipients_for_staff_and_only_the_roles_for_readers_and_partners(
    admin: httpx.AsyncClient,
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    make_key: Callable[..., Awaitable[str]],
    client_for: Callable[[str | None], httpx.AsyncClient],
) -> None:
    hsh, city = await make_partner("Hauts-de-Seine Habitat"), await make_partner("Ville de Sceaux")

    async def contact(partner: uuid.UUID, **fields: Any) -> str:
        return ok(await admin.post(f"/v1/partners/{partner}/contacts", json=fields), 201)["id"]  # type: ignore[no-any-return]

    claire = await contact(
        hsh,
        civility="Madame",
        first_name="Claire",
        last_name="Martin",
        title="Directrice territoriale",
        email="claire.martin@hsh.example",
    )
    deputy = await contact(hsh, last_name="Petit", email="petit@hsh.example", role="deputy")
    hierarchy = await contact(hsh, last_name="Grand", email="grand@hsh.example", role="hierarchy")
    await contact(hsh, last_name="Sans courriel")  # not reachable: never listed
    owner = await contact(city, last_name="Agent", email="agent@sceaux.example", role="staff")
    item = ok(
        await admin.post(
            "/v1/items",
            json={
                "objective_id": str(await make_objective()),
                "kind": "request",
                "title": "Centre commercial",
                "plan_text": "La Ville demande à Hauts-de-Seine Habitat de rénover le centre commercial.",
                "lead_partner_id": str(hsh),
                "owner_contact_id": owner,
            },
        ),
        201,
    )
    ok(
        await admin.post(
            f"/v1/items/{item['id']}/transitions", json={"to": "sent", "letter_reference": "SCX/9"}
        )
    )
    ok(
        await admin.post(
            f"/v1/items/{item['id']}/deadlines", json={"kind": "response", "due_on": "2026-03-05"}
        ),
        201,
    )

    upcoming = ok(await admin.get("/v1/reminders/upcoming", params={"days": 30}))
    by_step = {u["step"]: u for u in upcoming}
    assert [(r["contact_id"], r["audience"]) for r in by_step["D-1"]["recipients"]] == [
        (claire, "liaison"),
        (deputy, "deputy"),
    ]
    assert by_step["D-1"]["recipients"][0] == {
        "contact_id": claire,
        "partner_id": str(hsh),
        "partner_name": "Hauts-de-Seine Habitat",
        "audience": "liaison",
        "civility": "Madame",
        "first_name": "Claire",
        "last_name": "Martin",
        "title": "Directrice territoriale",
        "email": "claire.martin@hsh.example",
    }
    late = by_step["D+10"]  # late: the partner's hierarchy and the city owner are added
    assert late["audience"] == ["liaison", "deputy", "hierarchy", "city_owner"]
    assert [(r["contact_id"], r["audience"]) for r in late["recipients"]] == [
        (claire, "liaison"),
        (deputy, "deputy"),
        (hierarchy, "hierarchy"),
        (owner, "city_owner"),
    ]
    # The same people the notifications service gets for that reminder (one resolution, shared).
    service = client_for(await make_key(Role.SERVICE))
    for reminder in (by_step["D-1"], late):
        context = ok(
            await service.get(
                f"/v1/items/{item['id']}/reminder-context",
                params={"audience": reminder["audience"], "deadline_id": reminder["deadline_id"]},
            )
        )
        assert context["recipients"] == reminder["recipients"]
    assert (
        ok(await client_for(await make_key(Role.CITY)).get("/v1/reminders/upcoming", params={"days": 30}))
        == upcoming
    )

    # Readers and partners (even about their own items): the roles, no names nor emails.
    for client in (client_for(await make_key(Role.READER)), client_for(await make_key(Role.PARTNER, hsh))):
        response = await client.get("/v1/reminders/upcoming", params={"days": 30})
        assert ok(response) == [u | {"recipients": None} for u in upcoming]
        assert "claire.martin" not in response.text and "Martin" not in response.text
