"""Who a reminder about an item goes to (GET /v1/items/{id}/reminder-context), the contact a partner designates
for one item, and a service key acting for one contact (X-Acting-Contact) — as signed links in emails do."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.commitments.outbox.models import OutboxMessage
from services.commitments.partners.schemas import PartnerKind
from shared.auth import Role
from tests.responses import ok

ALL_AUDIENCES = ["liaison", "deputy", "hierarchy", "city_owner", "elected"]


@dataclass
class World:
    admin: httpx.AsyncClient
    service: httpx.AsyncClient
    ids: dict[str, str]

    async def context(self, audiences: list[str] = ALL_AUDIENCES, item: str = "item", **params: str) -> Any:
        response = await self.service.get(
            f"/v1/items/{self.ids[item]}/reminder-context", params={"audience": audiences, **params}
        )
        return ok(response)


async def _contact(admin: httpx.AsyncClient, partner_id: uuid.UUID | str, **fields: Any) -> str:
    return ok(await admin.post(f"/v1/partners/{partner_id}/contacts", json=fields))["id"]  # type: ignore[no-any-return]


@pytest.fixture
async def world(
    admin: httpx.AsyncClient,
    make_key: Callable[..., Awaitable[str]],
    client_for: Callable[[str | None], httpx.AsyncClient],
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
) -> World:
    """Hauts-de-Seine Habitat asked, with a liaison, a deputy, a hierarchy, and contacts one must not write
    to (erased, gone, without email); the city's owner of the item; the plan's elected official."""
    hsh = await make_partner("Hauts-de-Seine Habitat")
    vsgp = await make_partner("Vallée Sud Grand Paris", kind=PartnerKind.ETABLISSEMENT_PUBLIC_TERRITORIAL)
    city = await make_partner("Ville de Sceaux", kind=PartnerKind.COLLECTIVITE)
    ids = {"hsh": str(hsh), "vsgp": str(vsgp), "city": str(city)}
    ids["liaison"] = await _contact(
        admin,
        hsh,
        civility="Madame",
        first_name="Claire",
        last_name="Martin",
        title="Directrice territoriale",
        email="claire.martin@hsh.example",
    )
    ids["deputy"] = await _contact(admin, hsh, last_name="Petit", email="petit@hsh.example", role="deputy")
    ids["hierarchy"] = await _contact(
        admin, hsh, last_name="Grand", email="grand@hsh.example", role="hierarchy"
    )
    erased = await _contact(admin, hsh, last_name="Effacé", email="efface@hsh.example")
    ok(await admin.post(f"/v1/contacts/{erased}/erasure"))
    await _contact(admin, hsh, last_name="Parti", email="parti@hsh.example", active_to="2026-01-31")
    await _contact(admin, hsh, last_name="Sans courriel")
    ids["vsgp_liaison"] = await _contact(admin, vsgp, last_name="Roux", email="roux@vsgp.example")
    ids["owner"] = await _contact(admin, city, last_name="Agent", email="agent@sceaux.example", role="staff")
    ids["elected"] = await _contact(
        admin, city, last_name="Adjointe", email="adjointe@sceaux.example", role="elected"
    )
    objective = await make_objective()
    item = ok(
        await admin.post(
            "/v1/items",
            json={
                "objective_id": str(objective),
                "kind": "request",
                "title": "Centre commercial",
                "plan_text": "La Ville demande à Hauts-de-Seine Habitat de rénover le centre commercial.",
                "lead_partner_id": str(hsh),
                "associated_partner_ids": [str(vsgp)],
                "owner_contact_id": ids["owner"],
            },
        )
    )
    ids.update(item=item["id"], plan=item["plan_id"])
    ids["deadline"] = ok(
        await admin.post(
            f"/v1/items/{item['id']}/deadlines", json={"kind": "response", "due_on": "2026-03-16"}
        )
    )["id"]
    ok(await admin.patch(f"/v1/plans/{ids['plan']}", json={"elected_contact_id": ids["elected"]}))
    return World(admin=admin, service=client_for(await make_key(Role.SERVICE)), ids=ids)


def _by_audience(context: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for recipient in context["recipients"]:
        found.setdefault(recipient["audience"], []).append(recipient["contact_id"])
    return found


async def test_each_audience_resolves_to_reachable_people_only(world: World) -> None:
    context = await world.context(deadline_id=world.ids["deadline"])
    ids = world.ids
    assert _by_audience(context) == {
        "liaison": [ids["liaison"]],
        "deputy": [ids["deputy"]],
        "hierarchy": [ids["hierarchy"]],
        "city_owner": [ids["owner"]],
        "elected": [ids["elected"]],
    }
    claire = context["recipients"][0]
    assert claire == {
        "contact_id": ids["liaison"],
        "partner_id": ids["hsh"],
        "partner_name": "Hauts-de-Seine Habitat",
        "audience": "liaison",
        "civility": "Madame",
        "first_name": "Claire",
        "last_name": "Martin",
        "title": "Directrice territoriale",
        "email": "claire.martin@hsh.example",
    }
    item = context["item"]
    assert (item["title"], item["lead_partner_name"], item["commune"], item["owner_contact_id"]) == (
        "Centre commercial",
        "Hauts-de-Seine Habitat",
        "Sceaux",
        ids["owner"],
    )
    assert item["plan_text"].startswith("La Ville demande à Hauts-de-Seine Habitat")
    assert context["deadline"] == {
        "id": ids["deadline"],
        "kind": "response",
        "label": None,
        "due_on": "2026-03-16",
        "original_wording": None,
        "version": 1,
        "met_on": None,
        "reminders_active": False,
    }  # the request is still a draft


async def test_the_deadline_says_whether_it_is_still_reminded(world: World) -> None:
    deadline = world.ids["deadline"]

    async def state() -> tuple[int, str | None, bool]:
        found = (await world.context(["liaison"], deadline_id=deadline))["deadline"]
        return found["version"], found["met_on"], found["reminders_active"]

    assert await state() == (1, None, False)  # a draft: nothing is sent yet
    ok(
        await world.admin.post(
            f"/v1/items/{world.ids['item']}/transitions", json={"to": "sent", "letter_reference": "SCX/1"}
        )
    )
    assert await state() == (1, None, True)
    ok(
        await world.admin.patch(
            f"/v1/deadlines/{deadline}", json={"due_on": "2026-03-20", "reason": "Report."}
        )
    )
    assert await state() == (2, None, True)
    ok(await world.admin.post(f"/v1/items/{world.ids['item']}/transitions", json={"to": "accepted"}))
    assert await state() == (
        2,
        "2026-03-02",
        False,
    )  # a response deadline, answered (met the day of the answer)


async def test_only_the_requested_audiences_and_no_associated_partner(world: World) -> None:
    context = await world.context(["liaison"])
    assert _by_audience(context) == {"liaison": [world.ids["liaison"]]}
    assert context["deadline"] is None
    # Vallée Sud Grand Paris is associated, not asked: its liaison gets no reminder.
    assert world.ids["vsgp_liaison"] not in {r["contact_id"] for r in (await world.context())["recipients"]}


async def test_a_request_to_a_group_reaches_each_member(
    world: World,
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    plan_of: Callable[[uuid.UUID], Awaitable[uuid.UUID]],
) -> None:
    other = await make_partner("Sceaux Habitat")
    other_liaison = await _contact(world.admin, other, last_name="Blanc", email="blanc@sh.example")
    objective = await make_objective()
    group = await make_partner(
        "Les bailleurs sociaux",
        kind=PartnerKind.GROUP,
        is_group=True,
        member_ids=[uuid.UUID(world.ids["hsh"]), other],
        scope_plan_id=await plan_of(objective),
    )
    item = ok(
        await world.admin.post(
            "/v1/items",
            json={
                "objective_id": str(objective),
                "kind": "request",
                "title": "Requalification",
                "plan_text": "La Ville demande aux bailleurs sociaux de requalifier leur patrimoine.",
                "lead_partner_id": str(group),
            },
        )
    )
    world.ids["group_item"] = item["id"]
    context = await world.context(["liaison"], item="group_item")
    assert sorted(_by_audience(context)["liaison"]) == sorted([world.ids["liaison"], other_liaison])
    assert context["item"]["lead_partner_name"] == "Les bailleurs sociaux"


async def test_a_designated_colleague_replaces_liaison_and_deputy(
    world: World,
    make_key: Callable[..., Awaitable[str]],
    client_for: Callable[[str | None], httpx.AsyncClient],
    app: FastAPI,
) -> None:
    partner = client_for(await make_key(Role.PARTNER, uuid.UUID(world.ids["hsh"])))
    answer = ok(
        await partner.post(
            f"/v1/items/{world.ids['item']}/designated-contact",
            json={
                "civility": "Monsieur",
                "first_name": "Karim",
                "last_name": "Benali",
                "email": "k.benali@hsh.example",
                "title": "Responsable du patrimoine",
            },
        )
    )
    colleague = answer["contact"]["id"]
    assert (answer["partner_id"], answer["contact"]["partner_id"]) == (world.ids["hsh"], world.ids["hsh"])
    by_audience = _by_audience(await world.context())
    assert by_audience["liaison"] == [colleague] and "deputy" not in by_audience
    assert by_audience["hierarchy"] == [world.ids["hierarchy"]]  # escalation still reaches the hierarchy
    async with app.state.sessionmaker() as session:
        types = (await session.scalars(select(OutboxMessage.event_type))).all()
    assert "item.contact_assigned" in types
    # The city may point back to the usual liaison.
    ok(
        await world.admin.post(
            f"/v1/items/{world.ids['item']}/designated-contact",
            json={"partner_id": world.ids["hsh"], "contact_id": world.ids["liaison"]},
        )
    )
    assert _by_audience(await world.context(["liaison", "deputy"]))["liaison"] == [world.ids["liaison"]]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"last_name": "Sans partenaire", "email": "x@example.org"}, 422),  # staff must say which partner
        ({"partner_id": "{vsgp}", "contact_id": "{liaison}"}, 422),  # a contact of another partner
        (
            {"partner_id": "{city}", "last_name": "X", "email": "x@example.org"},
            422,
        ),  # a partner not concerned
        ({"partner_id": "{hsh}", "contact_id": "{liaison}", "last_name": "Both"}, 422),  # both ways at once
        ({"partner_id": "{hsh}", "last_name": "Sans courriel"}, 422),
        ({"partner_id": "{hsh}", "last_name": "X\r\nBcc: a@b.c", "email": "x@example.org"}, 422),
    ],
)
async def test_bad_designations_are_refused_and_write_nothing(
    world: World, body: dict[str, str], status: int
) -> None:
    payload = {key: value.format(**world.ids) for key, value in body.items()}
    before = await world.context()
    response = await world.admin.post(f"/v1/items/{world.ids['item']}/designated-contact", json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await world.context() == before


async def test_unknown_deadline_or_audience(world: World) -> None:
    foreign = await world.service.get(
        f"/v1/items/{world.ids['item']}/reminder-context", params={"deadline_id": str(uuid.uuid4())}
    )
    assert foreign.status_code == 404
    wrong = await world.service.get(
        f"/v1/items/{world.ids['item']}/reminder-context", params={"audience": "everyone"}
    )
    assert wrong.status_code == 422 and wrong.headers["content-type"].startswith("application/problem+json")


async def test_acting_contact_acts_as_that_partner_and_is_named_in_history(
    world: World,
    make_key: Callable[..., Awaitable[str]],
    client_for: Callable[[str | None], httpx.AsyncClient],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
) -> None:
    item = world.ids["item"]
    ok(
        await world.admin.post(
            f"/v1/items/{item}/transitions", json={"to": "sent", "letter_reference": "SCX/1"}
        )
    )
    secret = await make_key(Role.SERVICE)
    acting = client_for(secret)
    acting.headers["X-Acting-Contact"] = world.ids["liaison"]
    ok(await acting.post(f"/v1/items/{item}/transitions", json={"to": "acknowledged"}))
    history = ok(await world.admin.get(f"/v1/items/{item}/history"))
    entries = history if isinstance(history, list) else history["entries"]
    last = entries[-1]
    assert (last["actor_kind"], last["actor_id"]) == ("contact", world.ids["liaison"])
    # The same contact on another partner's item: as if it did not exist.
    other = ok(
        await world.admin.post(
            "/v1/items",
            json={
                "objective_id": str(await make_objective()),
                "kind": "request",
                "title": "Réseau de bus",
                "plan_text": "La Ville demande à VSGP de renforcer la ligne.",
                "lead_partner_id": world.ids["vsgp"],
            },
        )
    )
    assert (await acting.get(f"/v1/items/{other['id']}")).status_code == 404
    assert (
        await acting.post(f"/v1/items/{other['id']}/journal", json={"kind": "note", "text": "x"})
    ).status_code == 404
    # Acting as a contact gives a partner's rights, not the service's: no reminder context, no edits.
    assert (await acting.get(f"/v1/items/{item}/reminder-context")).status_code == 403
    assert (await acting.patch(f"/v1/items/{item}", json={"title": "Autre"})).status_code == 403


@pytest.mark.parametrize(
    ("role", "contact", "status"),
    [
        (Role.ADMIN, "{liaison}", 403),  # only service keys may act for someone
        (Role.PARTNER, "{liaison}", 403),
        (Role.SERVICE, "not-a-uuid", 422),
        (Role.SERVICE, "{unknown}", 403),  # a contact that does not exist
    ],
    ids=["admin", "partner", "malformed", "unknown-contact"],
)
async def test_acting_contact_refusals(
    world: World,
    make_key: Callable[..., Awaitable[str]],
    client_for: Callable[[str | None], httpx.AsyncClient],
    role: Role,
    contact: str,
    status: int,
) -> None:
    partner_id = uuid.UUID(world.ids["hsh"]) if role is Role.PARTNER else None
    client = client_for(await make_key(role, partner_id))
    response = await client.get(
        f"/v1/items/{world.ids['item']}",
        headers={"X-Acting-Contact": contact.format(**world.ids, unknown=uuid.uuid4())},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_erased_contact_can_no_longer_act(world: World) -> None:
    ok(await world.admin.post(f"/v1/contacts/{world.ids['deputy']}/erasure"))
    response = await world.service.get(
        f"/v1/items/{world.ids['item']}", headers={"X-Acting-Contact": world.ids["deputy"]}
    )
    assert response.status_code == 403


async def test_plan_update(world: World) -> None:
    plan = ok(await world.admin.patch(f"/v1/plans/{world.ids['plan']}", json={"territory": "Les Blagis"}))
    assert (plan["territory"], plan["elected_contact_id"]) == ("Les Blagis", world.ids["elected"])
    assert (
        await world.admin.patch(
            f"/v1/plans/{world.ids['plan']}", json={"elected_contact_id": str(uuid.uuid4())}
        )
    ).status_code == 422
    assert (
        await world.admin.patch(f"/v1/plans/{world.ids['plan']}", json={"title": None})
    ).status_code == 422
    cleared = ok(await world.admin.patch(f"/v1/plans/{world.ids['plan']}", json={"elected_contact_id": None}))
    assert cleared["elected_contact_id"] is None
    assert "elected" not in _by_audience(await world.context())


async def test_the_items_elected_official_overrides_the_plans(world: World) -> None:
    cabinet = await _contact(
        world.admin,
        world.ids["city"],
        last_name="Cabinet du maire",
        email="cabinet@sceaux.example",
        role="elected",
    )
    item = ok(await world.admin.patch(f"/v1/items/{world.ids['item']}", json={"elected_contact_id": cabinet}))
    assert item["elected_contact_id"] == cabinet
    assert _by_audience(await world.context(["elected"])) == {"elected": [cabinet]}
    wrong = await world.admin.patch(
        f"/v1/items/{world.ids['item']}", json={"elected_contact_id": str(uuid.uuid4())}
    )
    assert wrong.status_code == 422 and wrong.headers["content-type"].startswith("application/problem+json")
    cleared = ok(await world.admin.patch(f"/v1/items/{world.ids['item']}", json={"elected_contact_id": None}))
    assert cleared["elected_contact_id"] is None
    assert _by_audience(await world.context(["elected"])) == {
        "elected": [world.ids["elected"]]
    }  # the plan's again
