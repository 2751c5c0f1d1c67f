"""Every /v1 endpoint × every role × an object of one's own, of one's group and of another partner: zero leaks.

One world per database (module scope): partners A and B, a group G containing A, an item for each with a
contact, a deadline, a proposal and a journal entry; keys admin, city, reader, partner-A, partner-B. Each case
makes one request (actions that use up their object, like an erasure or a decision, get a fresh one). Another
partner's object is a 404 (as if it did not exist), never a 200 or a 403; lists hold none of it; a refused
write writes nothing; every refusal is problem+json.

Then relation × action (docs/permissions.md): a partner P, a group GP it belongs to and another partner Q; items
P leads, GP leads, P or GP is associated with, and that do not concern P; every action of the matrix tried by
every caller (admin, city, reader, service, P's key, and the service key acting as P's contact), each answer
compared with the documented table, and every refusal checked to have written nothing.
"""

from __future__ import annotations

import json
import string
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from services.commitments.models import Base
from tests.responses import ok
from tests.services.commitments.conftest import SeededApp

OWNERS = ("A", "G", "B")
STAFF = ("admin", "city", "reader", "service")
# "acting_a" is the notifications service's key acting for A's contact (X-Acting-Contact): exactly partner_a.
PARTNERS = {
    "partner_a": frozenset({"A", "G"}),
    "partner_b": frozenset({"B"}),
    "acting_a": frozenset({"A", "G"}),
}
ROLES = (*STAFF, *PARTNERS)


# --------------------------------------------------------------------------------------------------- the world


@dataclass
class World:
    app: FastAPI
    clients: dict[str, httpx.AsyncClient]
    plan_id: str
    axis_id: str
    objective_id: str
    ids: dict[str, dict[str, str]] = field(default_factory=dict)  # owner -> {partner_id, item_id, ...}
    revoked_secret: str = ""

    @property
    def admin(self) -> httpx.AsyncClient:
        return self.clients["admin"]

    def foreign_ids(self, role: str) -> set[str]:
        """Ids a partner key must never see: every object of the owners it is not concerned with."""
        if role not in PARTNERS:
            return set()
        return {
            value for owner, ids in self.ids.items() if owner not in PARTNERS[role] for value in ids.values()
        }


async def _new_item(world: World, owner: str) -> str:
    """A request to `owner`, sent (so that the partner may acknowledge it)."""
    item = ok(
        await world.admin.post(
            "/v1/items",
            json={
                "objective_id": world.objective_id,
                "kind": "request",
                "title": f"Demande à {owner}",
                "plan_text": f"La Ville demande à {owner} d'agir.",
                "lead_partner_id": world.ids[owner]["partner_id"],
            },
        )
    )
    ok(
        await world.admin.post(
            f"/v1/items/{item['id']}/transitions", json={"to": "sent", "letter_reference": "SCX/2026-001"}
        )
    )
    return item["id"]  # type: ignore[no-any-return]


async def _populate(world: World) -> None:
    admin = world.admin
    names = {"A": "Hauts-de-Seine Habitat", "B": "Vallée Sud Grand Paris", "G": "Les bailleurs sociaux"}
    for owner in ("A", "B", "G"):
        body: dict[str, Any] = {"name": names[owner], "kind": "bailleur_social"}
        if owner == "G":
            body.update(
                kind="group",
                is_group=True,
                member_ids=[world.ids["A"]["partner_id"]],
                scope_plan_id=world.plan_id,
            )
        world.ids[owner] = {"partner_id": (ok(await admin.post("/v1/partners", json=body)))["id"]}
    for owner in OWNERS:
        ids = world.ids[owner]
        ids["item_id"] = await _new_item(world, owner)
        ids["contact_id"] = (
            ok(
                await admin.post(
                    f"/v1/partners/{ids['partner_id']}/contacts",
                    json={"last_name": f"Contact {owner}", "email": f"contact.{owner.lower()}@example.org"},
                )
            )
        )["id"]
        ids["deadline_id"] = (
            ok(
                await admin.post(
                    f"/v1/items/{ids['item_id']}/deadlines", json={"kind": "response", "due_on": "2026-04-15"}
                )
            )
        )["id"]
        ids["proposal_id"] = (
            ok(
                await admin.post(
                    f"/v1/deadlines/{ids['deadline_id']}/proposals",
                    json={"proposed_due_on": "2026-05-15", "reason": f"Conseil de {owner} reporté."},
                )
            )
        )["id"]
        ids["journal_id"] = (
            ok(
                await admin.post(
                    f"/v1/items/{ids['item_id']}/journal",
                    json={"kind": "note", "text": f"Réunion avec {owner}."},
                )
            )
        )["id"]
    for role in ("city", "reader", "service", "partner_a", "partner_b"):
        body = {"name": f"clé {role}", "role": role.split("_")[0]}
        if role in PARTNERS:
            body["partner_id"] = world.ids[role[-1].upper()]["partner_id"]
        secret = (ok(await admin.post("/v1/api-keys", json=body)))["secret"]
        world.clients[role] = _client(world.app, secret)
        if role == "service":
            world.clients["acting_a"] = _client(
                world.app, secret, acting_contact=world.ids["A"]["contact_id"]
            )
    revoked = ok(await admin.post("/v1/api-keys", json={"name": "révoquée", "role": "admin"}))
    ok(await admin.post(f"/v1/api-keys/{revoked['id']}/revoke"))
    world.revoked_secret = revoked["secret"]


def _client(app: FastAPI, secret: str | None, acting_contact: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    if acting_contact:
        headers["X-Acting-Contact"] = acting_contact
    # A crash must show as a 500 in the matrix, not as an exception raised in the test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers)


@pytest.fixture(scope="module")
async def world(seeded_app: SeededApp) -> AsyncIterator[World]:
    """One populated app per database for the whole module; every table emptied afterwards."""
    app, secret = seeded_app.app, seeded_app.admin_secret
    world = World(
        app=app,
        clients={"admin": _client(app, secret)},
        plan_id=seeded_app.ids["plan_id"],
        axis_id=seeded_app.ids["axis_id"],
        objective_id=seeded_app.ids["objective_id"],
    )
    try:
        await _populate(world)
        yield world
    finally:
        for client in world.clients.values():
            await client.aclose()


async def row_counts(app: FastAPI) -> dict[str, int]:
    """How many rows each table holds, in one round trip. Every change a service makes adds an audit entry
    and an outbox event, so equal counts before and after a refusal mean nothing was written."""
    tables = Base.metadata.sorted_tables
    query = select(*(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables))
    async with app.state.engine.connect() as connection:
        return dict((await connection.execute(query)).one()._mapping)


# ------------------------------------------------------------------------------------------- the route table

# Who may act: "read" every role; "personal" (contacts) staff and the partner itself but never readers;
# "write" staff and the partner on its own items; "edit" city staff only; "admin" admins only;
# "recipients" (who to write to, with names and emails) admins, city staff and the service key.
Access = str
Fresh = Callable[[World, str], Awaitable[dict[str, str]]]


@dataclass(frozen=True)
class Route:
    access: Access
    success: int = 200
    scoped: bool = True  # the path names an object that belongs to a partner
    body: Callable[[World, str], Any] | None = None
    fresh: Fresh | None = None  # an object used up by a successful call, made anew for each case


async def _fresh_key(world: World, owner: str) -> dict[str, str]:
    key = ok(await world.admin.post("/v1/api-keys", json={"name": "à révoquer", "role": "reader"}))
    return {"key_id": key["id"]}


async def _fresh_contact(world: World, owner: str) -> dict[str, str]:
    contact = ok(
        await world.admin.post(
            f"/v1/partners/{world.ids[owner]['partner_id']}/contacts", json={"last_name": "Éphémère"}
        )
    )
    return {"contact_id": contact["id"]}


async def _fresh_sent_item(world: World, owner: str) -> dict[str, str]:
    return {"item_id": await _new_item(world, owner)}


async def _fresh_proposal(world: World, owner: str) -> dict[str, str]:
    proposal = ok(
        await world.admin.post(
            f"/v1/deadlines/{world.ids[owner]['deadline_id']}/proposals",
            json={"proposed_due_on": "2026-06-01", "reason": "Report."},
        )
    )
    return {"proposal_id": proposal["id"]}


ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/v1/api-keys"): Route(
        "admin", 201, scoped=False, body=lambda w, o: {"name": "matrice", "role": "reader"}
    ),
    ("GET", "/v1/api-keys"): Route("admin", scoped=False),
    ("POST", "/v1/api-keys/{key_id}/revoke"): Route("admin", scoped=False, fresh=_fresh_key),
    ("GET", "/v1/auth/whoami"): Route("read", scoped=False),
    ("GET", "/v1/partners"): Route("read", scoped=False),
    ("POST", "/v1/partners"): Route(
        "edit",
        201,
        scoped=False,
        body=lambda w, o: {"name": f"Partenaire {uuid.uuid4().hex[:8]}", "kind": "etat"},
    ),
    ("GET", "/v1/partners/{partner_id}"): Route("read"),
    ("PATCH", "/v1/partners/{partner_id}"): Route("edit", body=lambda w, o: {"siret": "20005791500007"}),
    ("GET", "/v1/partners/{partner_id}/contacts"): Route("personal"),
    ("POST", "/v1/partners/{partner_id}/contacts"): Route(
        "edit", 201, body=lambda w, o: {"last_name": "Durand"}
    ),
    ("GET", "/v1/contacts/{contact_id}"): Route("personal"),
    ("PATCH", "/v1/contacts/{contact_id}"): Route("edit", body=lambda w, o: {"title": "Chargée de mission"}),
    ("GET", "/v1/contacts/{contact_id}/export"): Route("edit"),
    ("POST", "/v1/contacts/{contact_id}/erasure"): Route("edit", fresh=_fresh_contact),
    ("GET", "/v1/plans"): Route("read", scoped=False),
    ("GET", "/v1/plans/{plan_id}"): Route("read", scoped=False),
    ("PATCH", "/v1/plans/{plan_id}"): Route(
        "edit", scoped=False, body=lambda w, o: {"territory": "Les Blagis"}
    ),
    ("POST", "/v1/plans"): Route(
        "edit",
        201,
        scoped=False,
        body=lambda w, o: {"title": f"Plan {uuid.uuid4().hex[:8]}", "commune": "Sceaux"},
    ),
    ("POST", "/v1/plans/import"): Route(
        "edit",
        scoped=False,
        body=lambda w, o: {
            # A text of its own each time: the same text again is a 409 naming its plan.
            "text": f"PLAN D'ACTION\n\nI. BIEN VIVRE\n\nA | CADRE DE VIE\n\n- La Ville rénovera le square {uuid.uuid4().hex[:8]}",
            "commune": "Sceaux",
            "title": "Plan importé",
        },
    ),
    ("POST", "/v1/plans/{plan_id}/axes"): Route(
        "edit", 201, scoped=False, body=lambda w, o: {"number": uuid.uuid4().hex[:6], "title": "BIEN GRANDIR"}
    ),
    ("POST", "/v1/axes/{axis_id}/objectives"): Route(
        "edit",
        201,
        scoped=False,
        body=lambda w, o: {"letter": uuid.uuid4().hex[:6], "title": "ACCOMPAGNER LES SENIORS"},
    ),
    ("GET", "/v1/items"): Route("read", scoped=False),
    ("POST", "/v1/items"): Route(
        "edit",
        201,
        scoped=False,
        body=lambda w, o: {
            "objective_id": w.objective_id,
            "kind": "request",
            "title": "Nouvelle demande",
            "plan_text": "Texte.",
            "lead_partner_id": w.ids["B"]["partner_id"],
        },
    ),
    ("GET", "/v1/items/{item_id}"): Route("read"),
    ("PATCH", "/v1/items/{item_id}"): Route("edit", body=lambda w, o: {"tags": ["matrice"]}),
    ("POST", "/v1/items/{item_id}/transitions"): Route(
        "write", fresh=_fresh_sent_item, body=lambda w, o: {"to": "acknowledged"}
    ),
    ("GET", "/v1/items/{item_id}/history"): Route("read"),
    ("GET", "/v1/items/{item_id}/deadlines"): Route("read"),
    ("POST", "/v1/items/{item_id}/deadlines"): Route(
        "edit", 201, body=lambda w, o: {"kind": "milestone", "due_on": "2026-06-30", "label": "Jalon"}
    ),
    ("PATCH", "/v1/deadlines/{deadline_id}"): Route("edit", body=lambda w, o: {"label": "Réponse attendue"}),
    ("GET", "/v1/items/{item_id}/deadline-proposals"): Route("read"),
    ("POST", "/v1/deadlines/{deadline_id}/proposals"): Route(
        "write",
        201,
        body=lambda w, o: {"proposed_due_on": "2026-07-15", "reason": "Appel d'offres infructueux."},
    ),
    ("POST", "/v1/deadline-proposals/{proposal_id}/decision"): Route(
        "edit", fresh=_fresh_proposal, body=lambda w, o: {"accept": False}
    ),
    ("GET", "/v1/items/{item_id}/journal"): Route("read"),
    ("GET", "/v1/items/{item_id}/reminder-context"): Route("recipients"),
    ("GET", "/v1/reminders/upcoming"): Route("read", scoped=False),
    ("GET", "/v1/plans/{plan_id}/reminder-rules"): Route("read", scoped=False),
    ("PUT", "/v1/plans/{plan_id}/reminder-rules"): Route(
        "edit", scoped=False, body=lambda w, o: {"on_due_day": True}
    ),
    ("GET", "/v1/partners/{partner_id}/reminder-rules"): Route("read"),
    ("PUT", "/v1/partners/{partner_id}/reminder-rules"): Route(
        "edit", body=lambda w, o: {"before_working_days": [5]}
    ),
    ("DELETE", "/v1/partners/{partner_id}/reminder-rules"): Route("edit"),
    ("GET", "/v1/items/{item_id}/reminder-rules"): Route("read"),
    ("PUT", "/v1/items/{item_id}/reminder-rules"): Route("edit", body=lambda w, o: {"on_due_day": False}),
    ("DELETE", "/v1/items/{item_id}/reminder-rules"): Route("edit"),
    ("POST", "/v1/items/{item_id}/designated-contact"): Route(
        "write",
        201,
        body=lambda w, o: {
            "partner_id": w.ids[o]["partner_id"],
            "last_name": "Collègue",
            "email": "collegue@example.org",
        },
    ),
    ("POST", "/v1/items/{item_id}/journal"): Route(
        "write", 201, body=lambda w, o: {"kind": "note", "text": "Point d'étape."}
    ),
}


def expected_status(route: Route, role: str, owner: str) -> int:
    if role == "admin":
        return route.success
    if route.access == "admin":
        return 403
    if route.access == "recipients":
        if role in PARTNERS and owner not in PARTNERS[role]:
            return 404  # another partner's item does not exist for it, whatever the action
        return route.success if role in ("city", "service") else 403
    if role == "city":
        return route.success
    if role in ("reader", "service"):
        return route.success if route.access == "read" else 403
    if route.scoped and owner not in PARTNERS[role]:
        return 404
    return route.success if route.access in ("read", "personal", "write") else 403


def _cases() -> list[Any]:
    cases = []
    for (method, path), route in ROUTES.items():
        for role in ROLES:
            owners = ("B",) if role in STAFF or not route.scoped else OWNERS
            for owner in owners:
                case_id = f"{method} {path} as {role}" + (f" on {owner}'s" if route.scoped else "")
                cases.append(pytest.param(method, path, role, owner, id=case_id))
    return cases


async def _target(world: World, route: Route, owner: str) -> dict[str, str]:
    ids = {**world.ids[owner], "plan_id": world.plan_id, "axis_id": world.axis_id}
    if route.fresh is not None:
        ids.update(await route.fresh(world, owner))
    ids.setdefault("key_id", str(uuid.uuid4()))
    return ids


def assert_problem(response: httpx.Response, status: int, what: str) -> None:
    assert response.status_code == status, f"{what}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), (
        f"{what}: not problem+json"
    )
    problem = response.json()
    assert problem["status"] == status and problem["type"].startswith("urn:") and problem["detail"], what


# ------------------------------------------------------------------------------------------------------ tests


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every /v1 operation the app serves. FastAPI >= 0.13x keeps an included router as
    one lazy `_IncludedRouter` entry in `app.routes`; its `effective_route_contexts()` are the real routes."""
    served = set()
    for route in app.routes:
        contexts = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for context in contexts:
            if isinstance(getattr(context, "original_route", context), APIRoute) and context.path.startswith(
                "/v1"
            ):
                served.update((method, context.path) for method in context.methods)
    return served


async def test_every_v1_route_has_a_case(world: World) -> None:
    served = served_routes(world.app)
    assert len(served) >= len(ROUTES) // 2, "route discovery broke: too few /v1 routes found"
    missing, stale = sorted(served - ROUTES.keys()), sorted(ROUTES.keys() - served)
    assert not missing, f"/v1 routes with no case in the scoping matrix (add them to ROUTES): {missing}"
    assert not stale, f"cases for routes the app no longer serves: {stale}"


@pytest.mark.parametrize(("method", "path", "role", "owner"), _cases())
async def test_scoping(world: World, method: str, path: str, role: str, owner: str) -> None:
    route = ROUTES[(method, path)]
    what = f"{method} {path} as {role}" + (f" on {owner}'s object" if route.scoped else "")
    url = path.format(**await _target(world, route, owner))
    expected = expected_status(route, role, owner)
    before = await row_counts(world.app) if method != "GET" and expected >= 400 else None
    body = route.body(world, owner) if route.body else None
    response = await world.clients[role].request(method, url, json=body)

    if response.status_code < 400:
        assert response.status_code == expected, f"{what}: {response.status_code} {response.text}"
    else:
        assert_problem(response, expected, what)
    if before is not None:
        assert before == await row_counts(world.app), f"{what}: refused, yet something was written"
    # The problem's `instance` is the caller's own path: whatever else mentions a foreign id is a leak.
    payload = response.json()
    if isinstance(payload, dict):
        payload = {key: value for key, value in payload.items() if key != "instance"}
    shown = json.dumps(payload)
    for leaked in world.foreign_ids(role):
        assert leaked not in shown, f"{what}: the answer shows {leaked}, which belongs to another partner"
    if expected == 404:
        # Indistinguishable from an object that does not exist.
        missing = path.format(**{name: str(uuid.uuid4()) for name in _path_names(path)})
        other = await world.clients[role].request(method, missing, json=body)
        assert (other.status_code, _problem_core(other)) == (response.status_code, _problem_core(response)), (
            what
        )
    if role in PARTNERS and response.status_code == 200 and method == "GET":
        _check_scoped_list(path, response.json(), world, role, what)


def _path_names(path: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(path) if name]


def _problem_core(response: httpx.Response) -> tuple[Any, ...]:
    problem = response.json()
    return problem.get("code"), problem.get("title"), problem.get("detail")


def _check_scoped_list(path: str, payload: Any, world: World, role: str, what: str) -> None:
    """A partner's lists hold its own organisation's and groups' objects only (including objects this module
    made for other cases, which the id scan does not know)."""
    visible = {world.ids[owner]["partner_id"] for owner in PARTNERS[role]}
    if path == "/v1/partners":
        assert {p["id"] for p in payload} <= visible, what
    elif path == "/v1/items":
        for item in payload["items"]:
            assert {item["lead_partner_id"], *item["associated_partner_ids"]} & visible, (
                f"{what}: {item['id']}"
            )
    elif path == "/v1/auth/whoami":
        assert set(payload["visible_partner_ids"]) == visible, what


@pytest.mark.parametrize("role", list(PARTNERS))
async def test_partner_filter_on_another_partner_lists_nothing(world: World, role: str) -> None:
    for owner in OWNERS:
        if owner in PARTNERS[role]:
            continue
        response = await world.clients[role].get(
            "/v1/items", params={"partner_id": world.ids[owner]["partner_id"]}
        )
        assert response.status_code == 200 and response.json()["items"] == [], f"{role} filtering on {owner}"


_CREDENTIALS = ["no key", "revoked key", "revoked key as X-API-Key", "not a bearer"]


def _credential_headers(world: World, credential: str) -> dict[str, str]:
    return {
        "no key": {},
        "revoked key": {"Authorization": f"Bearer {world.revoked_secret}"},
        "revoked key as X-API-Key": {"X-API-Key": world.revoked_secret},
        "not a bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[credential]


@pytest.mark.parametrize("credential", _CREDENTIALS)
@pytest.mark.parametrize(("method", "path"), list(ROUTES))
async def test_unauthenticated_is_401_everywhere(
    world: World, method: str, path: str, credential: str
) -> None:
    route = ROUTES[(method, path)]
    url = path.format(
        **{**world.ids["A"], "plan_id": world.plan_id, "axis_id": world.axis_id, "key_id": str(uuid.uuid4())}
    )
    before = await row_counts(world.app) if method != "GET" else None
    async with _client(world.app, None) as client:
        response = await client.request(
            method,
            url,
            json=route.body(world, "A") if route.body else None,
            headers=_credential_headers(world, credential),
        )
    assert_problem(response, 401, f"{method} {path} with {credential}")
    assert response.headers.get("www-authenticate", "").startswith("Bearer")
    if before is not None:
        assert before == await row_counts(world.app), (
            f"{method} {path} with {credential}: something was written"
        )


# ================================================================================ relation × action, every caller
#
# The permission matrix of docs/permissions.md, copied here as that page writes it (not read from the code):
# for each action, the answer per caller. Staff columns hold whatever the item's partners; the partner columns
# are per relation of the partner to the item, for a partner key and for the service key acting as one of the
# partner's contacts alike. "ok" is the act's success status.

REQUEST_MATRIX = """
action              admin  city  reader  service  lead  lead_group  associated  none
read                ok     ok    ok      ok       ok    ok          ok          404
read_recipients     ok     ok    403     ok       403   403         403         404
edit                ok     ok    403     403      403   403         403         404
edit_deadlines      ok     ok    403     403      403   403         403         404
acknowledge         ok     ok    403     403      ok    ok          403         404
answer              ok     ok    403     403      ok    ok          403         404
propose_date        ok     ok    403     403      ok    ok          403         404
add_progress        ok     ok    403     403      ok    ok          403         404
set_progress        ok     ok    403     403      ok    ok          403         404
declare_done        ok     ok    403     403      ok    ok          403         404
add_note            ok     ok    403     403      ok    ok          ok          404
designate_contact   ok     ok    403     403      ok    ok          ok          404
verify              ok     ok    403     403      403   403         403         404
send                ok     ok    403     403      403   403         403         404
record_no_answer    ok     ok    403     403      403   403         403         404
reopen              ok     ok    403     403      403   403         403         404
abandon             ok     ok    403     403      403   403         403         404
"""

COMMITMENT_MATRIX = """
action                 admin  city  reader  service  lead  lead_group  associated  none
read                   ok     ok    ok      ok       ok    ok          ok          404
read_recipients        ok     ok    403     ok       403   403         403         404
edit                   ok     ok    403     403      403   403         403         404
edit_deadlines         ok     ok    403     403      403   403         403         404
transition_commitment  ok     ok    403     403      403   403         403         404
answer                 ok     ok    403     403      403   403         403         404
add_progress           ok     ok    403     403      403   403         403         404
set_progress           ok     ok    403     403      403   403         403         404
propose_date           ok     ok    403     403      403   403         403         404
add_note               ok     ok    403     403      ok    ok          ok          404
designate_contact      ok     ok    403     403      ok    ok          ok          404
"""


def _parse_matrix(table: str) -> dict[str, dict[str, str]]:
    header, *rows = (line.split() for line in table.strip().splitlines())
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}


MATRIX = {"request": _parse_matrix(REQUEST_MATRIX), "commitment": _parse_matrix(COMMITMENT_MATRIX)}
STAFF_CALLERS = ("admin", "city", "reader", "service")
PARTNER_CALLERS = ("partner", "acting")  # P's own key; the service key acting as P's contact
# P's relations to the items of this section; "associated_group": a group P belongs to is associated.
RELATIONS = ("lead", "lead_group", "associated", "associated_group", "none")
MATRIX_COLUMN = {"associated_group": "associated"}


@dataclass(frozen=True)
class Act:
    """One way of taking one action of the matrix: the request, on an item of this kind in this status."""

    action: str
    kind: str
    status: str
    method: str
    path: str
    body: Any = None  # a dict, or a function of whether the caller is staff
    success: int = 200
    then: str | None = None  # the status a successful transition leads to


def _transition(to: str, **extra: str) -> dict[str, str]:
    return {"to": to, **extra}


def _designate(staff: bool) -> dict[str, str]:
    # Staff name the partner the contact answers for (the item's lead, Q, on their items); a partner designates
    # one of its own people, for itself.
    person = {"last_name": "Collègue", "email": "collegue@example.org"}
    return {**person, "partner_id": "{lead_partner_id}"} if staff else person


REQUEST, COMMITMENT = "request", "commitment"
ITEM, TRANSITIONS, JOURNAL = (
    "/v1/items/{item_id}",
    "/v1/items/{item_id}/transitions",
    "/v1/items/{item_id}/journal",
)
ACTS: dict[str, Act] = {
    # requests to partners
    "read the request": Act("read", REQUEST, "sent", "GET", ITEM),
    "list its deadlines": Act("read", REQUEST, "sent", "GET", ITEM + "/deadlines"),
    "list its proposals": Act("read", REQUEST, "sent", "GET", ITEM + "/deadline-proposals"),
    "read its journal": Act("read", REQUEST, "sent", "GET", JOURNAL),
    "read its history": Act("read", REQUEST, "sent", "GET", ITEM + "/history"),
    "read its reminder rules": Act("read", REQUEST, "sent", "GET", ITEM + "/reminder-rules"),
    "read its recipients": Act("read_recipients", REQUEST, "sent", "GET", ITEM + "/reminder-context"),
    "edit its fields": Act("edit", REQUEST, "sent", "PATCH", ITEM, {"tags": ["matrice"]}),
    "set its reminder rules": Act(
        "edit", REQUEST, "sent", "PUT", ITEM + "/reminder-rules", {"on_due_day": False}
    ),
    "drop its reminder rules": Act("edit", REQUEST, "sent", "DELETE", ITEM + "/reminder-rules"),
    "add a deadline": Act(
        "edit_deadlines",
        REQUEST,
        "sent",
        "POST",
        ITEM + "/deadlines",
        {"kind": "milestone", "due_on": "2026-06-30", "label": "Jalon"},
        201,
    ),
    "move a deadline": Act(
        "edit_deadlines",
        REQUEST,
        "sent",
        "PATCH",
        "/v1/deadlines/{deadline_id}",
        {"due_on": "2026-05-29", "reason": "Report demandé."},
    ),
    "decide a proposed date": Act(
        "edit_deadlines",
        REQUEST,
        "sent",
        "POST",
        "/v1/deadline-proposals/{proposal_id}/decision",
        {"accept": True},
    ),
    "acknowledge": Act(
        "acknowledge", REQUEST, "sent", "POST", TRANSITIONS, _transition("acknowledged"), then="acknowledged"
    ),
    "accept": Act("answer", REQUEST, "sent", "POST", TRANSITIONS, _transition("accepted"), then="accepted"),
    "accept in part": Act(
        "answer",
        REQUEST,
        "sent",
        "POST",
        TRANSITIONS,
        _transition("partially_accepted"),
        then="partially_accepted",
    ),
    "decline": Act("answer", REQUEST, "sent", "POST", TRANSITIONS, _transition("declined"), then="declined"),
    "decline with a comment": Act(
        "answer",
        REQUEST,
        "sent",
        "POST",
        TRANSITIONS,
        _transition("declined", comment="Hors de nos compétences."),
        then="declined",
    ),
    "answer in the journal": Act(
        "answer", REQUEST, "sent", "POST", JOURNAL, {"kind": "response", "text": "Accord de principe."}, 201
    ),
    "propose a date": Act(
        "propose_date",
        REQUEST,
        "sent",
        "POST",
        "/v1/deadlines/{deadline_id}/proposals",
        {"proposed_due_on": "2026-07-15", "reason": "Appel d'offres infructueux."},
        201,
    ),
    "start the work": Act(
        "add_progress",
        REQUEST,
        "accepted",
        "POST",
        TRANSITIONS,
        _transition("in_progress"),
        then="in_progress",
    ),
    "report progress": Act(
        "add_progress",
        REQUEST,
        "accepted",
        "POST",
        JOURNAL,
        {"kind": "progress", "text": "Études lancées."},
        201,
    ),
    "set progress to 40 %": Act(
        "set_progress",
        REQUEST,
        "accepted",
        "POST",
        JOURNAL,
        {"kind": "progress", "text": "Études rendues.", "progress_percent": 40},
        201,
    ),
    "set progress in a note": Act(
        "set_progress",
        REQUEST,
        "sent",
        "POST",
        JOURNAL,
        {"kind": "note", "text": "Fini.", "progress_percent": 100},
        201,
    ),
    "declare done": Act(
        "declare_done", REQUEST, "accepted", "POST", TRANSITIONS, _transition("delivered"), then="delivered"
    ),
    "add a note": Act(
        "add_note", REQUEST, "sent", "POST", JOURNAL, {"kind": "note", "text": "Réunion tenue."}, 201
    ),
    "designate a contact": Act(
        "designate_contact", REQUEST, "sent", "POST", ITEM + "/designated-contact", _designate, 201
    ),
    "verify": Act(
        "verify", REQUEST, "delivered", "POST", TRANSITIONS, _transition("verified"), then="verified"
    ),
    "send": Act(
        "send",
        REQUEST,
        "draft",
        "POST",
        TRANSITIONS,
        _transition("sent", letter_reference="SCX/2026-9"),
        then="sent",
    ),
    "send again after a refusal": Act(
        "send",
        REQUEST,
        "declined",
        "POST",
        TRANSITIONS,
        _transition("sent", letter_reference="SCX/2026-10"),
        then="sent",
    ),
    "record no answer": Act(
        "record_no_answer", REQUEST, "sent", "POST", TRANSITIONS, _transition("no_answer"), then="no_answer"
    ),
    "reopen a delivery": Act(
        "reopen", REQUEST, "delivered", "POST", TRANSITIONS, _transition("in_progress"), then="in_progress"
    ),
    "abandon": Act(
        "abandon", REQUEST, "sent", "POST", TRANSITIONS, _transition("abandoned"), then="abandoned"
    ),
    # commitments of the city
    "read the commitment": Act("read", COMMITMENT, "planned", "GET", ITEM),
    "read the commitment's journal": Act("read", COMMITMENT, "planned", "GET", JOURNAL),
    "read the commitment's recipients": Act(
        "read_recipients", COMMITMENT, "planned", "GET", ITEM + "/reminder-context"
    ),
    "edit the commitment": Act("edit", COMMITMENT, "planned", "PATCH", ITEM, {"tags": ["matrice"]}),
    "move the commitment's deadline": Act(
        "edit_deadlines",
        COMMITMENT,
        "planned",
        "PATCH",
        "/v1/deadlines/{deadline_id}",
        {"label": "Livraison"},
    ),
    "start the commitment": Act(
        "transition_commitment",
        COMMITMENT,
        "planned",
        "POST",
        TRANSITIONS,
        _transition("in_progress"),
        then="in_progress",
    ),
    "mark the commitment done": Act(
        "transition_commitment", COMMITMENT, "planned", "POST", TRANSITIONS, _transition("done"), then="done"
    ),
    "reopen the commitment": Act(
        "transition_commitment",
        COMMITMENT,
        "done",
        "POST",
        TRANSITIONS,
        _transition("in_progress"),
        then="in_progress",
    ),
    "abandon the commitment": Act(
        "transition_commitment",
        COMMITMENT,
        "planned",
        "POST",
        TRANSITIONS,
        _transition("abandoned"),
        then="abandoned",
    ),
    "answer in the commitment's journal": Act(
        "answer", COMMITMENT, "planned", "POST", JOURNAL, {"kind": "response", "text": "D'accord."}, 201
    ),
    "report the commitment's progress": Act(
        "add_progress", COMMITMENT, "planned", "POST", JOURNAL, {"kind": "progress", "text": "Avancé."}, 201
    ),
    "set the commitment to 100 %": Act(
        "set_progress",
        COMMITMENT,
        "planned",
        "POST",
        JOURNAL,
        {"kind": "progress", "text": "Terminé.", "progress_percent": 100},
        201,
    ),
    "propose a date for the commitment": Act(
        "propose_date",
        COMMITMENT,
        "planned",
        "POST",
        "/v1/deadlines/{deadline_id}/proposals",
        {"proposed_due_on": "2026-12-15", "reason": "Travaux décalés."},
        201,
    ),
    "add a note to the commitment": Act(
        "add_note",
        COMMITMENT,
        "planned",
        "POST",
        JOURNAL,
        {"kind": "note", "text": "Le département suit."},
        201,
    ),
    "designate a contact for the commitment": Act(
        "designate_contact", COMMITMENT, "planned", "POST", ITEM + "/designated-contact", _designate, 201
    ),
}

# The walk from a new item to each status an act starts from.
WALKS = {
    (REQUEST, "draft"): [],
    (REQUEST, "sent"): ["sent"],
    (REQUEST, "accepted"): ["sent", "accepted"],
    (REQUEST, "declined"): ["sent", "declined"],
    (REQUEST, "delivered"): ["sent", "accepted", "delivered"],
    (COMMITMENT, "planned"): [],
    (COMMITMENT, "done"): ["done"],
}


def expected_answer(act: Act, caller: str, relation: str) -> int:
    """What the documented matrix says this caller gets for this act on an item it has this relation to."""
    column = caller if caller in STAFF_CALLERS else MATRIX_COLUMN.get(relation, relation)
    cell = MATRIX[act.kind][act.action][column]
    return act.success if cell == "ok" else int(cell)


def test_every_act_is_in_the_documented_matrix_and_every_cell_is_tried() -> None:
    tried = {(act.kind, act.action) for act in ACTS.values()}
    documented = {(kind, action) for kind, rows in MATRIX.items() for action in rows}
    assert tried == documented, f"untried: {documented - tried}; undocumented: {tried - documented}"
    for act in ACTS.values():
        assert (act.kind, act.status) in WALKS, act


@dataclass
class MatrixWorld:
    world: World
    partners: dict[str, str]  # P, GP (a group P is a member of), Q (another partner)
    clients: dict[str, httpx.AsyncClient]  # every caller of the matrix
    contact_id: str  # P's contact the service key acts for
    stock: dict[tuple[str, str, str], dict[str, str]] = field(
        default_factory=dict
    )  # (kind, relation, status)

    def parties(self, relation: str) -> dict[str, Any]:
        p, gp, q = self.partners["P"], self.partners["GP"], self.partners["Q"]
        lead, associated = {
            "lead": (p, []),
            "lead_group": (gp, []),
            "associated": (q, [p]),
            "associated_group": (q, [gp]),
            "none": (q, []),
        }[relation]
        return {"lead_partner_id": lead, "associated_partner_ids": associated}

    async def new_item(self, kind: str, relation: str, status: str) -> dict[str, str]:
        """An item with P in this relation to it, walked to `status`, with a deadline and a pending proposal."""
        admin = self.world.admin
        item = ok(
            await admin.post(
                "/v1/items",
                json={
                    "objective_id": self.world.objective_id,
                    "kind": kind,
                    "title": f"{kind} {relation} {status}",
                    "plan_text": "La Ville demande à P d'agir.",
                    **self.parties(relation),
                },
            )
        )
        for step in WALKS[(kind, status)]:
            body = {"to": step, "letter_reference": "SCX/2026-1"} if step == "sent" else {"to": step}
            ok(await admin.post(f"/v1/items/{item['id']}/transitions", json=body))
        deadline = ok(
            await admin.post(
                f"/v1/items/{item['id']}/deadlines",
                json={"kind": "response" if kind == REQUEST else "delivery", "due_on": "2026-04-15"},
            )
        )
        proposal = ok(
            await admin.post(
                f"/v1/deadlines/{deadline['id']}/proposals",
                json={"proposed_due_on": "2026-05-15", "reason": "Conseil reporté."},
            )
        )
        return {
            "item_id": item["id"],
            "deadline_id": deadline["id"],
            "proposal_id": proposal["id"],
            "lead_partner_id": item["lead_partner_id"] or "",
        }

    async def item(self, kind: str, relation: str, status: str) -> dict[str, str]:
        """The stock item of this shape, made once: refusals and reads use it, since they change nothing."""
        key = (kind, relation, status)
        if key not in self.stock:
            self.stock[key] = await self.new_item(kind, relation, status)
        return self.stock[key]


@pytest.fixture(scope="module")
async def matrix(world: World) -> MatrixWorld:
    admin = world.admin
    partners = {}
    for name in ("P", "Q"):
        partners[name] = ok(
            await admin.post(
                "/v1/partners", json={"name": f"Partenaire {name} de la matrice", "kind": "association"}
            )
        )["id"]
    partners["GP"] = ok(
        await admin.post(
            "/v1/partners",
            json={
                "name": "Groupe de P",
                "kind": "group",
                "is_group": True,
                "member_ids": [partners["P"]],
                "scope_plan_id": str(world.plan_id),
            },
        )
    )["id"]
    contact_id = ok(
        await admin.post(
            f"/v1/partners/{partners['P']}/contacts",
            json={"first_name": "Paule", "last_name": "Liaison", "email": "paule@example.org"},
        )
    )["id"]
    key = ok(
        await admin.post(
            "/v1/api-keys", json={"name": "clé P", "role": "partner", "partner_id": partners["P"]}
        )
    )
    service_key = ok(await admin.post("/v1/api-keys", json={"name": "notifications", "role": "service"}))
    clients = {
        "admin": admin,
        "city": world.clients["city"],
        "reader": world.clients["reader"],
        "service": world.clients["service"],
        "partner": _client(world.app, key["secret"]),
        "acting": _client(world.app, service_key["secret"], acting_contact=contact_id),
    }
    world.clients["matrix partner P"], world.clients["matrix acting for P"] = (
        clients["partner"],
        clients["acting"],
    )
    return MatrixWorld(world, partners, clients, contact_id)


async def item_state(app: FastAPI, ids: dict[str, str]) -> tuple[Any, ...]:
    """The item's, deadline's and proposal's rows as they are stored: an update shows here, a row count misses it."""
    from services.commitments.deadlines.models import Deadline, DeadlineProposal
    from services.commitments.items.models import Item

    async with app.state.engine.connect() as connection:
        item = (
            await connection.execute(select(Item.__table__).where(Item.id == uuid.UUID(ids["item_id"])))
        ).one()
        deadline = (
            await connection.execute(
                select(Deadline.__table__).where(Deadline.id == uuid.UUID(ids["deadline_id"]))
            )
        ).one()
        proposal = (
            await connection.execute(
                select(DeadlineProposal.__table__).where(DeadlineProposal.id == uuid.UUID(ids["proposal_id"]))
            )
        ).one()
    return tuple(item), tuple(deadline), tuple(proposal)


def _matrix_cases() -> list[Any]:
    cases = []
    for name in ACTS:
        for caller in STAFF_CALLERS:  # their rights do not depend on the item's partners: one item will do
            cases.append(pytest.param(name, caller, "none", id=f"{name} as {caller}"))
        for caller in PARTNER_CALLERS:
            for relation in RELATIONS:
                cases.append(pytest.param(name, caller, relation, id=f"{name} as {caller} ({relation})"))
    return cases


@pytest.mark.parametrize(("act_name", "caller", "relation"), _matrix_cases())
async def test_relation_times_action(matrix: MatrixWorld, act_name: str, caller: str, relation: str) -> None:
    act = ACTS[act_name]
    expected = expected_answer(act, caller, relation)
    what = f"{act_name} as {caller} ({relation})"
    writes = act.method != "GET" and expected < 400
    ids = await (matrix.new_item if writes else matrix.item)(act.kind, relation, act.status)
    body = act.body(caller in STAFF_CALLERS) if callable(act.body) else act.body
    if isinstance(body, dict):
        body = {key: value.format(**ids) if isinstance(value, str) else value for key, value in body.items()}
    app = matrix.world.app
    before = (await row_counts(app), await item_state(app, ids)) if expected >= 400 else None

    response = await matrix.clients[caller].request(act.method, act.path.format(**ids), json=body)

    if expected >= 400:
        assert_problem(response, expected, what)
        assert before == (await row_counts(app), await item_state(app, ids)), f"{what}: refused, yet written"
        if expected == 403:
            assert response.json()["code"] == "forbidden", what
        return
    assert response.status_code == expected, f"{what}: {response.status_code} {response.text}"
    if act.then is not None:
        assert response.json()["status"] == act.then, what


# ------------------------------------------------------------------------- what the item says the caller may do


# The matrix action each lifecycle transition is (the "how" column of docs/permissions.md).
def _transition_action(kind: str, source: str, target: str) -> str:
    if kind == COMMITMENT:
        return "transition_commitment"
    if target == "in_progress":
        return "reopen" if source == "delivered" else "add_progress"
    return {
        "sent": "send",
        "acknowledged": "acknowledge",
        "accepted": "answer",
        "partially_accepted": "answer",
        "declined": "answer",
        "no_answer": "record_no_answer",
        "delivered": "declare_done",
        "verified": "verify",
        "abandoned": "abandon",
    }[target]


def expected_transitions(kind: str, status: str, caller: str, relation: str) -> list[str]:
    from services.commitments.items.lifecycle import ItemKind, Status, transitions_for

    targets = transitions_for(ItemKind(kind)).get(Status(status), ())
    column = caller if caller in STAFF_CALLERS else MATRIX_COLUMN.get(relation, relation)
    return [
        t.value for t in targets if MATRIX[kind][_transition_action(kind, status, t.value)][column] == "ok"
    ]


_SHAPES = sorted(set(WALKS))


@pytest.mark.parametrize("caller", [*STAFF_CALLERS, *PARTNER_CALLERS])
async def test_allowed_transitions_are_the_callers_own(matrix: MatrixWorld, caller: str) -> None:
    """`allowed_transitions`, on the item and in the listing alike, is what the matrix lets this caller do."""
    relations = ("none",) if caller in STAFF_CALLERS else RELATIONS
    client = matrix.clients[caller]
    for relation in relations:
        for kind, status in _SHAPES:
            ids = await matrix.item(kind, relation, status)
            response = await client.get(f"/v1/items/{ids['item_id']}")
            what = f"{kind} {status} as {caller} ({relation})"
            if caller in PARTNER_CALLERS and relation == "none":
                assert_problem(response, 404, what)
                continue
            expected = expected_transitions(kind, status, caller, relation)
            assert ok(response)["allowed_transitions"] == expected, what
            listed = ok(
                await client.get("/v1/items", params={"q": f"{kind} {relation} {status}", "limit": 200})
            )
            shown = {i["id"]: i["allowed_transitions"] for i in listed["items"]}
            assert shown[ids["item_id"]] == expected, f"{what}, in the listing"


@pytest.mark.parametrize("caller", [*STAFF_CALLERS, *PARTNER_CALLERS])
async def test_a_transition_that_does_not_exist_is_409_naming_the_callers(
    matrix: MatrixWorld, caller: str
) -> None:
    relations = ("none",) if caller in STAFF_CALLERS else RELATIONS
    app = matrix.world.app
    for relation in relations:
        ids = await matrix.item(REQUEST, relation, "sent")
        what = f"sent → verified as {caller} ({relation})"
        before = (await row_counts(app), await item_state(app, ids))
        response = await matrix.clients[caller].post(
            f"/v1/items/{ids['item_id']}/transitions", json={"to": "verified"}
        )
        if caller in PARTNER_CALLERS and relation == "none":
            assert_problem(response, 404, what)
        else:
            assert_problem(response, 409, what)
            assert response.json()["allowed_transitions"] == expected_transitions(
                REQUEST, "sent", caller, relation
            )
        assert before == (await row_counts(app), await item_state(app, ids)), f"{what}: refused, yet written"


async def test_the_acting_contact_is_named_in_history_and_journal(matrix: MatrixWorld) -> None:
    """The service key acting for P's contact acts as P, and what it does is signed by that contact."""
    ids = await matrix.new_item(REQUEST, "lead", "sent")
    acting = matrix.clients["acting"]
    ok(
        await acting.post(
            f"/v1/items/{ids['item_id']}/transitions", json={"to": "accepted", "comment": "Accord du bureau."}
        )
    )
    history = ok(await matrix.world.admin.get(f"/v1/items/{ids['item_id']}/history"))
    last = [h for h in history if h["action"] == "transition"][-1]
    assert (last["actor_kind"], last["actor_id"]) == ("contact", matrix.contact_id)
    journal = ok(await matrix.world.admin.get(f"/v1/items/{ids['item_id']}/journal"))
    assert [(e["kind"], e["author"]["kind"], e["author"]["id"], e["author"]["name"]) for e in journal] == [
        ("response", "contact", matrix.contact_id, "Paule Liaison")
    ]
