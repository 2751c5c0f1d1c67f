"""Hostile and malformed input on every writing endpoint: refused with a 4xx problem+json that names the field,
and nothing written (rows, audit trail, outbox). Valid Unicode of every script is stored and read back as sent.

One world per database (module scope): a partner, a group, an item with a deadline, a proposal, a journal
entry and a contact. Cases that must be refused before any service runs are checked against the row counts of
every table (the outbox included); refusals that happen inside a service, after a first change, against every
row of every table and the list endpoints.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.commitments.models import Base
from services.commitments.outbox.models import OutboxMessage
from tests.french import english_in
from tests.responses import ok
from tests.services.commitments.conftest import SeededApp

# --------------------------------------------------------------------------------------------------- the world


@dataclass
class World:
    app: FastAPI
    admin: httpx.AsyncClient
    ids: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return path.format(**self.ids)

    @property
    def max_body(self) -> int:
        return self.app.state.settings.max_body_bytes  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
async def world(seeded_app: SeededApp) -> AsyncIterator[World]:
    """One populated app per database for the whole module; every table emptied afterwards."""
    app, secret = seeded_app.app, seeded_app.admin_secret
    admin = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://test",
        headers={"Authorization": f"Bearer {secret}"},
    )
    world = World(app, admin, dict(seeded_app.ids))
    try:
        ids = world.ids
        ids["partner_id"] = ok(
            await admin.post(
                "/v1/partners", json={"name": "Hauts-de-Seine Habitat", "kind": "bailleur_social"}
            )
        )["id"]
        ids["group_id"] = ok(
            await admin.post(
                "/v1/partners",
                json={
                    "name": "Les bailleurs sociaux",
                    "kind": "group",
                    "is_group": True,
                    "member_ids": [ids["partner_id"]],
                    "scope_plan_id": ids["plan_id"],
                },
            )
        )["id"]
        ids["contact_id"] = ok(
            await admin.post(
                world.url("/v1/partners/{partner_id}/contacts"),
                json={"last_name": "Martin", "first_name": "Claire", "active_from": "2026-01-01"},
            )
        )["id"]
        ids["item_id"] = ok(
            await admin.post(
                "/v1/items",
                json={
                    "objective_id": ids["objective_id"],
                    "kind": "request",
                    "title": "Rénovation du centre commercial",
                    "plan_text": "La Ville demande à Hauts-de-Seine Habitat de rénover.",
                    "lead_partner_id": ids["partner_id"],
                },
            )
        )["id"]
        ok(
            await admin.post(
                world.url("/v1/items/{item_id}/transitions"),
                json={"to": "sent", "letter_reference": "SCX/2026-001"},
            )
        )
        ids["deadline_id"] = ok(
            await admin.post(
                world.url("/v1/items/{item_id}/deadlines"), json={"kind": "response", "due_on": "2026-04-15"}
            )
        )["id"]
        ids["proposal_id"] = ok(
            await admin.post(
                world.url("/v1/deadlines/{deadline_id}/proposals"),
                json={"proposed_due_on": "2026-05-15", "reason": "Conseil d'administration reporté."},
            )
        )["id"]
        ok(
            await admin.post(
                world.url("/v1/items/{item_id}/journal"), json={"kind": "note", "text": "Réunion."}
            )
        )
        yield world
    finally:
        await admin.aclose()


# ------------------------------------------------------------------------------------- "nothing was written"


async def row_counts(app: FastAPI) -> dict[str, int]:
    """How many rows each table holds, the outbox's counted through its model, in one round trip."""
    counts = [
        select(func.count()).select_from(t).scalar_subquery().label(t.name)
        for t in Base.metadata.sorted_tables
        if t is not OutboxMessage.__table__
    ]
    outbox = select(func.count()).select_from(OutboxMessage).scalar_subquery().label("outbox")
    async with app.state.sessionmaker() as session:
        return dict((await session.execute(select(outbox, *counts))).one()._mapping)


def assert_nothing_written(before: dict[str, int], after: dict[str, int], what: str) -> None:
    assert after["outbox"] == before["outbox"], f"{what}: an event went to the outbox"
    assert after == before, f"{what}: something was written"


# Rows of these tables are only ever added (an erasure's redaction comes with a new entry): counting them is
# enough, and much cheaper than reading their JSON columns twice per case.
APPEND_ONLY = frozenset({"outbox", "audit_entries", "deadline_changes", "idempotency_records"})


async def full_state(world: World) -> dict[str, Any]:
    """Every row of every table (the count of append-only ones), and the item's history as the API shows it."""
    state: dict[str, Any] = dict(await row_counts(world.app))
    async with world.app.state.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name not in APPEND_ONLY:
                state[table.name] = sorted(map(repr, (await connection.execute(select(table))).all()))
    state["history"] = (await world.admin.get(world.url("/v1/items/{item_id}/history"))).json()
    return state


def assert_refusal(
    response: httpx.Response, field_name: str | None, status: int | None, what: str
) -> dict[str, Any]:
    """4xx (never 5xx), problem+json, a detail naming the offending field."""
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.text[:500]}"
    if status is not None:
        assert response.status_code == status, f"{what}: {response.status_code} {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/problem+json"), what
    problem = response.json()
    assert problem["status"] == response.status_code and problem["detail"], what
    assert not english_in(problem), f"{what}: English reaches the caller: {english_in(problem)}"
    if field_name is not None:
        assert re.search(rf"(?<![\w]){re.escape(field_name)}(?![\w])", problem["detail"]), (
            f"{what}: the detail does not name {field_name!r}: {problem['detail']!r}"
        )
        if problem["code"] == "validation-error":
            assert any(field_name in error["loc"] for error in problem["errors"]), what
    return problem  # type: ignore[no-any-return]


async def send(world: World, method: str, path: str, body: Any) -> httpx.Response:
    """JSON for Python values; bytes go as they are, labelled JSON."""
    if isinstance(body, bytes):
        return await world.admin.request(
            method, world.url(path), content=body, headers={"content-type": "application/json"}
        )
    return await world.admin.request(method, world.url(path), json=body)


async def check_refused(
    world: World,
    method: str,
    path: str,
    body: Any,
    field_name: str | None,
    status: int | None = 422,
    what: str = "",
) -> dict[str, Any]:
    """Send a request that must be refused before any service runs, and check that nothing was written."""
    what = what or f"{method} {path}"
    before = await row_counts(world.app)
    response = await send(world, method, path, body)
    problem = assert_refusal(response, field_name, status, what)
    assert_nothing_written(before, await row_counts(world.app), what)
    return problem


# ---------------------------------------------------------------------------------- endpoints and their fields


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    base: dict[str, Any]  # a valid body
    fields: dict[str, str]  # field -> kind, for the wrong-type cases


# In base bodies, "{name}" stands for the id of that name in the world.
ENDPOINTS: dict[str, Endpoint] = {
    "partners.create": Endpoint(
        "POST",
        "/v1/partners",
        {"name": "Nouveau partenaire", "kind": "association"},
        {
            "name": "line",
            "kind": "enum",
            "aliases": "lines",
            "siret": "line",
            "is_group": "bool",
            "member_ids": "uuids",
        },
    ),
    "partners.update": Endpoint(
        "PATCH",
        "/v1/partners/{partner_id}",
        {"aliases": ["HSH"]},
        {"name": "line", "kind": "enum", "aliases": "lines", "siret": "line", "member_ids": "uuids"},
    ),
    "contacts.create": Endpoint(
        "POST",
        "/v1/partners/{partner_id}/contacts",
        {"last_name": "Durand", "first_name": "Paul", "email": "paul.durand@example.org", "role": "deputy"},
        {
            "civility": "enum",
            "first_name": "line",
            "last_name": "line",
            "title": "line",
            "email": "email",
            "phone": "line",
            "role": "enum",
            "active_from": "date",
            "active_to": "date",
        },
    ),
    "contacts.update": Endpoint(
        "PATCH",
        "/v1/contacts/{contact_id}",
        {"title": "Directrice territoriale"},
        {"last_name": "line", "email": "email", "role": "enum", "active_to": "date"},
    ),
    "items.create": Endpoint(
        "POST",
        "/v1/items",
        {
            "objective_id": "{objective_id}",
            "kind": "request",
            "title": "Nouvelle demande",
            "plan_text": "Texte.",
            "lead_partner_id": "{partner_id}",
            "tags": ["Sceaux"],
            "budget": "150000.00",
        },
        {
            "objective_id": "uuid",
            "kind": "enum",
            "title": "line",
            "plan_text": "text",
            "lead_partner_id": "uuid",
            "associated_partner_ids": "uuids",
            "owner_contact_id": "uuid",
            "budget": "money",
            "tags": "lines",
        },
    ),
    "items.update": Endpoint(
        "PATCH",
        "/v1/items/{item_id}",
        {"title": "Rénovation du centre"},
        {
            "title": "line",
            "plan_text": "text",
            "budget": "money",
            "tags": "lines",
            "needs_review": "bool",
            "review_reason": "text",
        },
    ),
    "transitions": Endpoint(
        "POST",
        "/v1/items/{item_id}/transitions",
        {"to": "acknowledged", "comment": "Reçu."},
        {"to": "enum", "on": "date", "letter_reference": "line", "comment": "text"},
    ),
    "deadlines.create": Endpoint(
        "POST",
        "/v1/items/{item_id}/deadlines",
        {"kind": "milestone", "due_on": "2026-06-30", "label": "Jalon"},
        {"kind": "enum", "due_on": "date", "label": "line", "original_wording": "line"},
    ),
    "deadlines.update": Endpoint(
        "PATCH",
        "/v1/deadlines/{deadline_id}",
        {"due_on": "2026-05-01", "reason": "Report demandé."},
        {"due_on": "date", "reason": "text", "label": "line", "met_on": "date"},
    ),
    "proposals.create": Endpoint(
        "POST",
        "/v1/deadlines/{deadline_id}/proposals",
        {"proposed_due_on": "2026-07-01", "reason": "Appel d'offres infructueux."},
        {"proposed_due_on": "date", "reason": "text"},
    ),
    "proposals.decide": Endpoint(
        "POST",
        "/v1/deadline-proposals/{proposal_id}/decision",
        {"accept": False},
        {"accept": "bool", "comment": "text"},
    ),
    "journal.create": Endpoint(
        "POST",
        "/v1/items/{item_id}/journal",
        {"kind": "progress", "text": "Travaux engagés.", "progress_percent": 40, "occurred_on": "2026-03-01"},
        {
            "kind": "enum",
            "text": "text",
            "occurred_on": "date",
            "progress_percent": "int",
            "evidence_url": "line",
        },
    ),
    "api-keys.create": Endpoint(
        "POST",
        "/v1/api-keys",
        {"name": "Intranet", "role": "reader"},
        {"name": "line", "role": "enum", "partner_id": "uuid"},
    ),
    "plans.create": Endpoint(
        "POST",
        "/v1/plans",
        {"title": "Plan d'action", "commune": "Sceaux"},
        {"title": "line", "commune": "line", "territory": "line", "adopted_on": "date"},
    ),
    "axes.create": Endpoint(
        "POST",
        "/v1/plans/{plan_id}/axes",
        {"number": "IX", "title": "BIEN GRANDIR"},
        {"number": "line", "title": "line"},
    ),
    "objectives.create": Endpoint(
        "POST",
        "/v1/axes/{axis_id}/objectives",
        {"letter": "Z", "title": "SENIORS"},
        {"letter": "line", "title": "line", "context": "text"},
    ),
    "plans.import": Endpoint(
        "POST",
        "/v1/plans/import",
        {
            "text": "PLAN D'ACTION\n\nI. BIEN VIVRE\n\nA | CADRE DE VIE\n\n- La Ville rénovera le square",
            "commune": "Sceaux",
        },
        {"text": "text", "commune": "line", "territory": "line", "title": "line", "tags": "lines"},
    ),
}

# One wrong value per kind of field (two where lax parsing used to coerce them), named for the test id.
WRONG_VALUES: dict[str, list[tuple[str, Any]]] = {
    "line": [("number for string", 42)],
    "text": [("list for string", ["texte"])],
    "email": [("object for string", {"address": "a@example.org"})],
    "date": [("number for date", 0)],
    "bool": [("string for bool", "true"), ("number for bool", 1)],
    "int": [("string for int", "40"), ("float for int", 40.0)],
    "money": [("bool for number", True), ("list for number", [1])],
    "uuid": [("number for uuid", 42)],
    "uuids": [("string for list", "abc")],
    "lines": [("object for list", {"a": "b"})],
    "enum": [("unknown value", "nope")],
}


def _body(world: World, endpoint: Endpoint, **changes: Any) -> dict[str, Any]:
    body = {
        key: world.url(value) if isinstance(value, str) else value for key, value in endpoint.base.items()
    }
    return {**body, **changes}


def _raw(world: World, endpoint: Endpoint, field_name: str, json_value: str) -> bytes:
    """The endpoint's valid body with one field written as raw JSON text (for what json.dumps can't write)."""
    others = json.dumps({key: value for key, value in _body(world, endpoint).items() if key != field_name})
    return (others[:-1] + (", " if others != "{}" else "") + f'"{field_name}": {json_value}}}').encode()


# ------------------------------------------------------------------------------------------------ shapes, types


@pytest.mark.parametrize("name", list(ENDPOINTS))
async def test_unknown_field_is_refused(world: World, name: str) -> None:
    endpoint = ENDPOINTS[name]
    problem = await check_refused(
        world,
        endpoint.method,
        endpoint.path,
        _body(world, endpoint, surprise_field=1),
        "surprise_field",
        what=f"{name} with an unknown field",
    )
    # The only error: the base body, which the other cases alter one field at a time, is valid.
    assert [error["loc"] for error in problem["errors"]] == [["body", "surprise_field"]]


@pytest.mark.parametrize("name", list(ENDPOINTS))
async def test_body_that_is_not_an_object_is_refused(world: World, name: str) -> None:
    endpoint = ENDPOINTS[name]
    await check_refused(
        world,
        endpoint.method,
        endpoint.path,
        [_body(world, endpoint)],
        "body",
        what=f"{name} with a list for a body",
    )


@pytest.mark.parametrize(
    ("name", "field_name", "value"),
    [
        pytest.param(name, field_name, value, id=f"{name}.{field_name}: {label}")
        for name, endpoint in ENDPOINTS.items()
        for field_name, kind in endpoint.fields.items()
        for label, value in WRONG_VALUES[kind]
    ],
)
async def test_wrong_type_is_refused(world: World, name: str, field_name: str, value: Any) -> None:
    endpoint = ENDPOINTS[name]
    await check_refused(
        world,
        endpoint.method,
        endpoint.path,
        _body(world, endpoint, **{field_name: value}),
        field_name,
        what=f"{name}.{field_name} = {value!r}",
    )


# ------------------------------------------------------------------------------------------------- text content

SINGLE_LINE_FIELDS = [
    ("partners.create", "name"),
    ("partners.update", "aliases"),
    ("contacts.create", "last_name"),
    ("contacts.create", "title"),
    ("items.create", "title"),
    ("items.update", "title"),
    ("items.create", "tags"),
    ("transitions", "letter_reference"),
    ("deadlines.create", "label"),
    ("api-keys.create", "name"),
    ("plans.create", "commune"),
]
LINE_BREAKERS = {
    "LF": "\n",
    "CR": "\r",
    "CRLF header": "\r\nBcc: x@example.org",
    "U+2028": "\u2028",
    "U+2029": "\u2029",
    "NEL": "\x85",
    "TAB": "\t",
    "ESC": "\x1b",
    "NUL": "\x00",
    "DEL": "\x7f",
}
MULTI_LINE_FIELDS = [
    ("items.create", "plan_text"),
    ("items.update", "review_reason"),
    ("transitions", "comment"),
    ("deadlines.update", "reason"),
    ("proposals.create", "reason"),
    ("proposals.decide", "comment"),
    ("journal.create", "text"),
    ("objectives.create", "context"),
    ("plans.import", "text"),
]
MULTI_LINE_FORBIDDEN = {"NUL": "\x00", "ESC": "\x1b", "BEL": "\x07"}


def _text_value(endpoint: Endpoint, field_name: str, text: str) -> Any:
    return [text] if endpoint.fields[field_name] == "lines" else text


# Every character on a few fields, the commonest ones on every field: the check is one shared type.
SINGLE_LINE_CASES = [
    (name, field_name, label)
    for name, field_name in SINGLE_LINE_FIELDS
    for label in LINE_BREAKERS
    if (field_name in ("name", "last_name", "title") and name.endswith("create"))
    or label in ("LF", "U+2028", "NUL")
]


@pytest.mark.parametrize(
    ("name", "field_name", "char"),
    [
        pytest.param(name, field_name, LINE_BREAKERS[label], id=f"{name}.{field_name}: {label}")
        for name, field_name, label in SINGLE_LINE_CASES
    ],
)
async def test_control_characters_in_single_line_text_are_refused(
    world: World, name: str, field_name: str, char: str
) -> None:
    endpoint = ENDPOINTS[name]
    body = _body(world, endpoint, **{field_name: _text_value(endpoint, field_name, f"Vallée{char}Sud")})
    await check_refused(world, endpoint.method, endpoint.path, body, field_name, what=f"{name}.{field_name}")


@pytest.mark.parametrize(
    ("name", "field_name", "char"),
    [
        pytest.param(name, field_name, char, id=f"{name}.{field_name}: {label}")
        for name, field_name in MULTI_LINE_FIELDS
        for label, char in MULTI_LINE_FORBIDDEN.items()
    ],
)
async def test_control_characters_in_multi_line_text_are_refused(
    world: World, name: str, field_name: str, char: str
) -> None:
    endpoint = ENDPOINTS[name]
    body = _body(world, endpoint, **{field_name: f"Première ligne\nseconde{char} ligne"})
    await check_refused(world, endpoint.method, endpoint.path, body, field_name, what=f"{name}.{field_name}")


# Raw JSON escapes json.dumps would never write: lone and reversed surrogates.
SURROGATES = {"lone high": r'"a\ud800b"', "lone low": r'"a\udfffb"', "reversed pair": r'"\udc00\ud800"'}


@pytest.mark.parametrize(
    ("name", "field_name", "escape"),
    [
        pytest.param(name, field_name, escape, id=f"{name}.{field_name}: {label}")
        for name, endpoint in ENDPOINTS.items()
        for field_name in [
            next(f for f, kind in endpoint.fields.items() if kind in ("line", "text", "email"))
        ]
        for label, escape in SURROGATES.items()
        if label == "lone high" or name == "partners.create"
    ],
)
async def test_lone_surrogates_are_refused(world: World, name: str, field_name: str, escape: str) -> None:
    endpoint = ENDPOINTS[name]
    await check_refused(
        world,
        endpoint.method,
        endpoint.path,
        _raw(world, endpoint, field_name, escape),
        field_name,
        what=f"{name}.{field_name} = {escape}",
    )


BAD_EMAILS = [
    "claire",
    "a@b",
    "a@@example.org",
    "a b@example.org",
    "@example.org",
    "claire@",
    "claire@example..org",
    "claire@example.org\r\nBcc: x@example.org",
    "claire@exam\u2028ple.org",
    "claire@exa\x00mple.org",
    "claire@-example.org",
    "c" * 65 + "@example.org",
    "claire@" + "b" * 250 + ".org",
    "claire@example.org,b@example.org",
]


@pytest.mark.parametrize("name", ["contacts.create", "contacts.update"])
@pytest.mark.parametrize("email", BAD_EMAILS, ids=repr)
async def test_bad_email_is_refused(world: World, name: str, email: str) -> None:
    endpoint = ENDPOINTS[name]
    await check_refused(
        world,
        endpoint.method,
        endpoint.path,
        _body(world, endpoint, email=email),
        "email",
        what=f"{name}.email = {email!r}",
    )


BAD_DATES = [
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "2026-13-01",
    "1899-12-31",
    "2201-01-01",
    "2026-3-2",
    "2026-03-02T10:00:00",
    "2026-03-02T00:00:00Z",
    "1700006400",
    "",
    "02/03/2026",
]
DATE_FIELDS = [
    ("contacts.create", "active_from"),
    ("contacts.update", "active_to"),
    ("transitions", "on"),
    ("deadlines.update", "due_on"),
    ("deadlines.update", "met_on"),
    ("proposals.create", "proposed_due_on"),
    ("journal.create", "occurred_on"),
    ("plans.create", "adopted_on"),
]


@pytest.mark.parametrize(
    ("name", "field_name", "value"),
    [
        *[
            pytest.param("deadlines.create", "due_on", value, id=f"deadlines.create.due_on: {value!r}")
            for value in BAD_DATES
        ],
        *[
            pytest.param(name, field_name, value, id=f"{name}.{field_name}: {value!r}")
            for name, field_name in DATE_FIELDS
            for value in ("0001-01-01", "2026-02-30")
        ],
    ],
)
async def test_bad_date_is_refused(world: World, name: str, field_name: str, value: str) -> None:
    endpoint = ENDPOINTS[name]
    await check_refused(
        world,
        endpoint.method,
        endpoint.path,
        _body(world, endpoint, **{field_name: value}),
        field_name,
        what=f"{name}.{field_name} = {value!r}",
    )


# ------------------------------------------------------------------------------------------------------ numbers

BAD_NUMBERS = [
    ("items.create", "budget", "-1"),
    ("items.create", "budget", "-0.01"),
    ("items.create", "budget", "1e13"),
    ("items.create", "budget", '"1e13"'),
    ("items.create", "budget", "0.001"),
    ("items.create", "budget", '"12,50"'),
    ("items.create", "budget", "1" * 400),
    ("items.create", "budget", "1e400"),
    ("items.create", "budget", "NaN"),
    ("items.create", "budget", "Infinity"),
    ("items.create", "budget", "-Infinity"),
    ("items.create", "budget", '"NaN"'),
    ("items.update", "budget", "-150000"),
    ("journal.create", "progress_percent", "101"),
    ("journal.create", "progress_percent", "-1"),
    ("journal.create", "progress_percent", "1" * 30),
    ("journal.create", "progress_percent", "1e2"),
    ("journal.create", "progress_percent", "true"),
    ("journal.create", "progress_percent", "NaN"),
    ("journal.create", "progress_percent", str(2**63)),
]


@pytest.mark.parametrize(
    ("name", "field_name", "json_value"),
    [pytest.param(*case, id=f"{case[0]}.{case[1]} = {case[2][:20]}") for case in BAD_NUMBERS],
)
async def test_bad_number_is_refused(world: World, name: str, field_name: str, json_value: str) -> None:
    endpoint = ENDPOINTS[name]
    await check_refused(
        world,
        endpoint.method,
        endpoint.path,
        _raw(world, endpoint, field_name, json_value),
        field_name,
        what=f"{name}.{field_name} = {json_value[:40]}",
    )


TOO_MANY = [
    ("partners.create", "name", "x" * 301),
    ("items.create", "plan_text", "x" * 20_001),
    ("items.create", "tags", ["x" * 81]),
    ("items.create", "tags", [f"t{i}" for i in range(31)]),
    ("partners.create", "aliases", [f"Alias {i}" for i in range(51)]),
    ("items.create", "associated_partner_ids", [str(uuid.uuid4()) for _ in range(51)]),
    ("journal.create", "evidence_url", "https://example.org/" + "x" * 2000),
    ("contacts.create", "phone", "0" * 31),
    ("api-keys.create", "name", "   "),
]


@pytest.mark.parametrize(
    ("name", "field_name", "value"), [pytest.param(*case, id=f"{case[0]}.{case[1]}") for case in TOO_MANY]
)
async def test_too_long_or_too_many_is_refused(world: World, name: str, field_name: str, value: Any) -> None:
    endpoint = ENDPOINTS[name]
    await check_refused(
        world,
        endpoint.method,
        endpoint.path,
        _body(world, endpoint, **{field_name: value}),
        field_name,
        what=f"{name}.{field_name}",
    )


# ------------------------------------------------------------------------------------------- malformed bodies

MALFORMED = {
    "truncated": b'{"name": "Vall',
    "single quotes": b"{'name': 'x', 'kind': 'other'}",
    "trailing comma": b'{"name": "x", "kind": "other",}',
    "two documents": b'{"name": "x", "kind": "other"} {"name": "y"}',
    "raw NUL byte in a string": b'{"name": "a\x00b", "kind": "other"}',
    "raw newline in a string": b'{"name": "a\nb", "kind": "other"}',
    "invalid UTF-8": b'{"name": "\xff\xfe", "kind": "other"}',
    "UTF-8 encoded surrogate": b'{"name": "\xed\xa0\x80", "kind": "other"}',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "5000-digit number": b'{"name": "x", "kind": "other", "is_group": ' + b"9" * 5000 + b"}",
    "bare string": b'"just a string"',
    "null": b"null",
    "empty": b"",
}


@pytest.mark.parametrize("raw", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_malformed_json_is_refused(world: World, raw: bytes) -> None:
    # Names the body (or the field holding the broken text), never crashes.
    before = await row_counts(world.app)
    response = await send(world, "POST", "/v1/partners", raw)
    problem = assert_refusal(response, None, None, "malformed JSON")
    assert re.search(r"\b(body|name)\b", problem["detail"]), problem["detail"]
    assert_nothing_written(before, await row_counts(world.app), "malformed JSON")


async def test_body_over_the_limit_is_413(world: World) -> None:
    body = _body(world, ENDPOINTS["partners.create"], name="x" * world.max_body)
    before = await row_counts(world.app)
    response = await send(world, "POST", "/v1/partners", body)
    problem = assert_refusal(response, None, 413, "oversized body")
    assert str(world.max_body) in problem["detail"]
    assert_nothing_written(before, await row_counts(world.app), "oversized body")


async def _streamed(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_body_over_the_limit_streamed_without_length_is_413(world: World) -> None:
    parts = [b'{"name": "', *[b"x" * 4096] * (world.max_body // 4096 + 2), b'", "kind": "other"}']
    before = await row_counts(world.app)
    response = await world.admin.post(
        "/v1/partners", content=_streamed(parts), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_refusal(response, None, 413, "oversized streamed body")
    assert_nothing_written(before, await row_counts(world.app), "oversized streamed body")


async def test_small_body_streamed_without_length_is_read(world: World) -> None:
    parts = [b'{"name": "Stream', "é".encode()[:1], "é".encode()[1:], b'", "kind": "other"}']
    response = await world.admin.post(
        "/v1/partners", content=_streamed(parts), headers={"content-type": "application/json"}
    )
    assert ok(response)["name"] == "Streamé"  # chunks joined, even inside a UTF-8 sequence


async def test_body_at_the_limit_is_read(world: World) -> None:
    endpoint = ENDPOINTS["partners.create"]
    padding = world.max_body - len(json.dumps(_body(world, endpoint, name="")).encode())
    body = json.dumps(_body(world, endpoint, name="x" * padding)).encode()
    assert len(body) == world.max_body
    await check_refused(world, "POST", "/v1/partners", body, "name", what="body of exactly the limit")


# ------------------------------------------------------------------------------- refusals inside the services

SERVICE_REFUSALS = [
    # (case id, method, path, body, field)
    (
        "member_ids on a non-group, after a rename",
        "PATCH",
        "/v1/partners/{partner_id}",
        {"name": "Nouveau nom", "member_ids": ["{group_id}"]},
        "member_ids",
    ),
    (
        "a group that is its own member",
        "PATCH",
        "/v1/partners/{group_id}",
        {"name": "Groupe renommé", "member_ids": ["{group_id}"]},
        "member_ids",
    ),
    ("partner name set to null", "PATCH", "/v1/partners/{partner_id}", {"name": None}, "name"),
    ("alias without letter or digit", "PATCH", "/v1/partners/{partner_id}", {"aliases": ["—"]}, "aliases"),
    (
        "unknown lead partner",
        "PATCH",
        "/v1/items/{item_id}",
        {"title": "Titre changé", "lead_partner_id": str(uuid.UUID(int=1))},
        "lead_partner_id",
    ),
    (
        "unknown objective",
        "POST",
        "/v1/items",
        {"objective_id": str(uuid.UUID(int=1)), "kind": "commitment", "title": "T", "plan_text": "P"},
        "objective_id",
    ),
    (
        "request without a lead partner",
        "POST",
        "/v1/items",
        {"objective_id": "{objective_id}", "kind": "request", "title": "T", "plan_text": "P"},
        "lead_partner_id",
    ),
    (
        "unknown owner contact",
        "POST",
        "/v1/items",
        {
            "objective_id": "{objective_id}",
            "kind": "commitment",
            "title": "T",
            "plan_text": "P",
            "owner_contact_id": str(uuid.UUID(int=1)),
        },
        "owner_contact_id",
    ),
    ("item title set to null", "PATCH", "/v1/items/{item_id}", {"budget": "10.00", "title": None}, "title"),
    (
        "contact ending before it starts",
        "PATCH",
        "/v1/contacts/{contact_id}",
        {"title": "Directrice", "active_to": "2025-12-31"},
        "active_to",
    ),
    (
        "contact role set to null",
        "PATCH",
        "/v1/contacts/{contact_id}",
        {"title": "Directrice", "role": None},
        "role",
    ),
    ("contact last name set to null", "PATCH", "/v1/contacts/{contact_id}", {"last_name": None}, "last_name"),
    (
        "new date without a reason",
        "PATCH",
        "/v1/deadlines/{deadline_id}",
        {"label": "Réponse", "due_on": "2026-09-01"},
        "reason",
    ),
    (
        "met_on on a response deadline",
        "PATCH",
        "/v1/deadlines/{deadline_id}",
        {"label": "Réponse", "met_on": "2026-03-01"},
        "met_on",
    ),
    (
        "journal entry dated in the future",
        "POST",
        "/v1/items/{item_id}/journal",
        {"kind": "note", "text": "Demain.", "occurred_on": "2026-03-03"},
        "occurred_on",
    ),
    (
        "partner key without a partner",
        "POST",
        "/v1/api-keys",
        {"name": "Clé", "role": "partner"},
        "partner_id",
    ),
]


def _fill(world: World, value: Any) -> Any:
    if isinstance(value, str):
        return world.url(value)
    if isinstance(value, list):
        return [_fill(world, v) for v in value]
    if isinstance(value, dict):
        return {k: _fill(world, v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "field_name"),
    [pytest.param(*case[1:], id=case[0]) for case in SERVICE_REFUSALS],
)
async def test_refusal_inside_a_service_writes_nothing(
    world: World, method: str, path: str, body: dict[str, Any], field_name: str
) -> None:
    before = await full_state(world)
    response = await send(world, method, path, _fill(world, body))
    after = await full_state(world)
    assert after == before, "refused, yet something was written"
    assert_refusal(response, field_name, 422, f"{method} {path} {body}")


# ---------------------------------------------------------------------------------------------- query and path

CURSOR_JUNK = {
    "not base64": "!!!",
    "not JSON": "bm90IGpzb24",
    "non-ASCII": "é",
    "JSON list": "WzFd",
    "null": "bnVsbA",
    "NUL": "\x00",
    "too long": "A" * 5000,
    "deep nesting": "W1tb" * 600,
    "other sort": {"s": "title", "v": "a", "id": str(uuid.uuid4())},
    "bad id": {"s": "created", "v": None, "id": "x"},
    "number for a title": {"s": "title", "v": 123, "id": str(uuid.uuid4())},
    "object for a title": {"s": "title", "v": {"a": 1}, "id": str(uuid.uuid4())},
    "number for a date": {"s": "updated", "v": 5, "id": str(uuid.uuid4())},
    "huge number for a date": {"s": "updated", "v": 10**300, "id": str(uuid.uuid4())},
    "NUL in a title": {"s": "title", "v": "a\x00b", "id": str(uuid.uuid4())},
    "lone surrogate in a title": {"s": "title", "v": "a\ud800b", "id": str(uuid.uuid4())},
    "naive date": {"s": "updated", "v": "2026-03-02T09:00:00", "id": str(uuid.uuid4())},
}


def _cursor(value: Any) -> str:
    if isinstance(value, str):
        return value
    # json.dumps writes a lone surrogate as the escape \ud800, as a hostile client would.
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def assert_bad_cursor(response: httpx.Response, what: str) -> None:
    problem = assert_refusal(response, "cursor", 400, what)
    assert problem["code"] == "invalid-cursor", what


@pytest.mark.parametrize("label", list(CURSOR_JUNK))
async def test_bad_cursor_is_400(world: World, label: str) -> None:
    value = CURSOR_JUNK[label]
    sort = value["s"] if isinstance(value, dict) and label != "other sort" else "created"
    response = await world.admin.get("/v1/items", params={"cursor": _cursor(value), "sort": sort})
    assert_bad_cursor(response, f"cursor {label}")


# As they arrive on the wire: percent-escapes the client wrote, not ones httpx would choose.
RAW_CURSORS = [
    "%00",
    "%ED%A0%80",
    "%ED%A0%80%ED%B0%80",
    "%FF%FE",
    "%C0%80",
    "abc%00def",
    "%E2%80%A8",
    "%2B%2F",
]


@pytest.mark.parametrize("raw", RAW_CURSORS)
@pytest.mark.parametrize("sort", ["created", "title", "-updated"])
async def test_percent_encoded_junk_cursor_is_400(world: World, raw: str, sort: str) -> None:
    assert_bad_cursor(await world.admin.get(f"/v1/items?sort={sort}&cursor={raw}"), f"cursor={raw}")


@pytest.mark.parametrize("raw", RAW_CURSORS)
@pytest.mark.parametrize("param", ["q", "tag"])
async def test_percent_encoded_junk_in_text_queries_is_refused_or_harmless(
    world: World, raw: str, param: str
) -> None:
    # Undecodable bytes arrive as U+FFFD (harmless text); NUL and line separators are refused by QueryText.
    response = await world.admin.get(f"/v1/items?{param}=x{raw}y")
    if response.status_code != 200:
        assert_refusal(response, param, 422, f"{param}={raw}")
    else:
        assert "%00" not in raw and "%E2%80%A8" not in raw


hostile_cursors = st.one_of(
    st.text(st.characters(codec=None), max_size=300),
    st.binary(max_size=600).map(lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")),
    st.fixed_dictionaries(
        {
            "s": st.sampled_from(["created", "title", "updated"]),
            "v": st.none() | st.integers() | st.text(st.characters(codec=None), max_size=80),
            "id": st.uuids().map(str),
        }
    ).map(_cursor),
)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cursor=hostile_cursors,
    sort=st.sampled_from(["created", "-created", "title", "-title", "updated", "-updated"]),
)
async def test_fuzzed_cursor_is_never_a_server_error(world: World, cursor: str, sort: str) -> None:
    # A cursor that happens to decode (a valid title or date) just gives a page; anything else is a 400.
    response = await world.admin.get("/v1/items", params={"cursor": cursor, "sort": sort})
    if response.status_code != 200:
        assert_bad_cursor(response, f"cursor {cursor!r}")


async def test_cursor_after_the_longest_title_gives_the_next_page(world: World) -> None:
    titles = [("\U0001d518" * 299) + suffix for suffix in "ab"]  # 4 UTF-8 bytes each: the longest cursor
    created = [
        ok(
            await world.admin.post(
                "/v1/items",
                json={
                    "objective_id": world.ids["objective_id"],
                    "kind": "commitment",
                    "title": title,
                    "plan_text": "P",
                },
            )
        )["id"]
        for title in titles
    ]
    seen: list[str] = []
    params: dict[str, Any] = {"sort": "-title", "limit": 1, "q": "\U0001d518" * 2}
    while len(seen) < 2:
        page = ok(await world.admin.get("/v1/items", params=params))
        seen += [item["id"] for item in page["items"]]
        params["cursor"] = page["next_cursor"]
    assert seen == created[::-1]


BAD_QUERIES = [
    ("q", "a\x00b"),
    ("q", "a\rb"),
    ("q", "a\nb"),
    ("q", "a\u2028b"),
    ("q", "x" * 201),
    ("tag", "a\x00b"),
    ("limit", "0"),
    ("limit", "10000"),
    ("limit", "-1"),
    ("limit", "abc"),
    ("limit", "1e2"),
    ("sort", "bogus"),
    ("status", "bogus"),
    ("kind", "bogus"),
    ("partner_id", "not-a-uuid"),
    ("plan_id", "1"),
    ("overdue", "maybe"),
    ("due_before", "2026-02-30"),
    ("due_after", "0000-01-01"),
    ("due_before", "2026-3-2"),
]


@pytest.mark.parametrize(("param", "value"), BAD_QUERIES, ids=[f"{p}={v[:12]!r}" for p, v in BAD_QUERIES])
async def test_bad_query_is_422(world: World, param: str, value: str) -> None:
    response = await world.admin.get("/v1/items", params={param: value})
    assert_refusal(response, param, 422, f"?{param}={value!r}")


BAD_PATHS = [
    "/v1/items/not-a-uuid",
    "/v1/items/%00",
    "/v1/items/1",
    "/v1/partners/{partner_id}x",
    "/v1/contacts/%E2%80%A8",
    "/v1/deadline-proposals/ /decision",
    "/v1/items/{item_id}%0D%0A/journal",
]


@pytest.mark.parametrize("path", BAD_PATHS)
async def test_bad_id_in_path_is_4xx(world: World, path: str) -> None:
    method = "POST" if path.endswith(("decision", "journal")) else "GET"
    before = await row_counts(world.app)
    response = await world.admin.request(method, world.url(path), json={"accept": True})
    assert_refusal(response, None, None, path)
    assert_nothing_written(before, await row_counts(world.app), path)


# ------------------------------------------------------------------------------------------------ valid Unicode

VALID_TEXT = {
    "emoji": "Rénovation 🏗️ du square 🌳 👩‍👩‍👧 ✅",
    "RTL": "مركز تجاري — מרכז מסחרי",
    "combining marks": "Cafe\u0301 de\u0301core\u0301 Ångstro\u0308m",
    "CJK": "再開発プロジェクト 재개발 项目",
    "astral": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀 \U0001f600 𠜎",  # noqa: RUF001 - astral-plane letters on purpose
    "typography": "Œuvre « ß » ﬁ ½ l’été\u00a0insécable\u200dzwj",
}


@pytest.mark.parametrize("label", list(VALID_TEXT))
async def test_valid_unicode_is_stored_and_read_back(world: World, label: str) -> None:
    text = VALID_TEXT[label]
    admin, multi = world.admin, f"{text}\n{text}"
    partner = ok(
        await admin.post(
            "/v1/partners",
            json={"name": f"{text} {label}", "kind": "association", "aliases": [f"{text} alias {label}"]},
        )
    )
    assert (partner["name"], partner["aliases"]) == (f"{text} {label}", [f"{text} alias {label}"])
    assert ok(await admin.get(f"/v1/partners/{partner['id']}"))["name"] == f"{text} {label}"

    contact = ok(
        await admin.post(
            f"/v1/partners/{partner['id']}/contacts",
            json={"first_name": text, "last_name": text, "title": text, "email": "zoë@exämple.fr"},
        )
    )
    read = ok(await admin.get(f"/v1/contacts/{contact['id']}"))
    assert (read["first_name"], read["last_name"], read["title"], read["email"]) == (
        text,
        text,
        text,
        "zoë@exämple.fr",
    )

    item = ok(
        await admin.post(
            "/v1/items",
            json={
                "objective_id": world.ids["objective_id"],
                "kind": "request",
                "title": text,
                "plan_text": multi,
                "lead_partner_id": partner["id"],
                "tags": [text],
            },
        )
    )
    ok(
        await admin.post(
            f"/v1/items/{item['id']}/transitions",
            json={"to": "sent", "letter_reference": text, "comment": multi},
        )
    )
    read = ok(await admin.get(f"/v1/items/{item['id']}"))
    assert (read["title"], read["plan_text"], read["tags"], read["letter_reference"]) == (
        text,
        multi,
        [text],
        text,
    )
    found = ok(await admin.get("/v1/items", params={"q": text, "limit": 200}))["items"]
    assert item["id"] in [i["id"] for i in found], "searching the exact title finds the item"

    deadline = ok(
        await admin.post(
            f"/v1/items/{item['id']}/deadlines",
            json={"kind": "delivery", "due_on": "2026-09-30", "label": text, "original_wording": text},
        )
    )
    ok(
        await admin.post(
            f"/v1/deadlines/{deadline['id']}/proposals",
            json={"proposed_due_on": "2026-10-31", "reason": multi},
        )
    )
    ok(
        await admin.post(
            f"/v1/items/{item['id']}/journal",
            json={"kind": "progress", "text": multi, "progress_percent": 10},
        )
    )
    deadlines = ok(await admin.get(f"/v1/items/{item['id']}/deadlines"))
    assert [(d["label"], d["original_wording"]) for d in deadlines] == [(text, text)]
    assert [p["reason"] for p in ok(await admin.get(f"/v1/items/{item['id']}/deadline-proposals"))] == [multi]
    journal = ok(await admin.get(f"/v1/items/{item['id']}/journal"))
    assert {e["text"] for e in journal} == {multi}

    key = ok(await admin.post("/v1/api-keys", json={"name": text, "role": "reader"}))
    assert [k["name"] for k in ok(await admin.get("/v1/api-keys")) if k["id"] == key["id"]] == [text]

    patched = ok(await admin.patch(f"/v1/items/{item['id']}", json={"title": f"{text} (2)"}))
    assert patched["title"] == f"{text} (2)"


async def test_valid_contact_patch_is_stored_and_read_back(world: World) -> None:
    contact = ok(
        await world.admin.post(world.url("/v1/partners/{partner_id}/contacts"), json={"last_name": "Petit"})
    )
    change = {
        "civility": "Madame",
        "role": "deputy",
        "phone": "+33 1 23 45 67 89",
        "active_from": "2026-01-01",
        "active_to": "2026-12-31",
    }
    response = await world.admin.patch(f"/v1/contacts/{contact['id']}", json=change)
    assert response.status_code == 200, response.text
    read = ok(await world.admin.get(f"/v1/contacts/{contact['id']}"))
    assert {key: read[key] for key in change} == change


# Longest values the schemas accept, in fields whose columns are narrower, or whose normalised form grows.
LONGEST_ACCEPTED = [
    ("POST", "/v1/partners/{partner_id}/contacts", {"last_name": "L" * 300}, "last_name"),
    ("POST", "/v1/partners/{partner_id}/contacts", {"last_name": "L", "first_name": "F" * 300}, "first_name"),
    ("POST", "/v1/api-keys", {"name": "N" * 300, "role": "reader"}, "name"),
    (
        "POST",
        "/v1/items/{draft_item_id}/transitions",
        {"to": "sent", "letter_reference": "R" * 300},
        "letter_reference",
    ),
    ("POST", "/v1/partners", {"name": "\ufdfa" * 20, "kind": "association"}, "name"),
    ("POST", "/v1/plans", {"title": "Plan", "commune": "C" * 300}, "commune"),
    ("POST", "/v1/plans", {"title": "Plan", "commune": "Sceaux", "territory": "T" * 300}, "territory"),
    ("POST", "/v1/plans/{plan_id}/axes", {"number": "N" * 80, "title": "Axe"}, "number"),
    ("POST", "/v1/axes/{axis_id}/objectives", {"letter": "L" * 80, "title": "Objectif"}, "letter"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field_name"),
    LONGEST_ACCEPTED,
    ids=[f"{case[1]} {case[3]}" for case in LONGEST_ACCEPTED],
)
async def test_longest_accepted_value_is_stored_or_refused_cleanly(
    world: World, method: str, path: str, body: dict[str, Any], field_name: str
) -> None:
    if "{draft_item_id}" in path:
        world.ids["draft_item_id"] = ok(
            await world.admin.post("/v1/items", json=_body(world, ENDPOINTS["items.create"]))
        )["id"]
    before = await row_counts(world.app)
    response = await send(world, method, path, body)
    assert response.status_code < 500, response.text[:300]
    if response.status_code >= 400:
        assert_refusal(response, field_name, 422, f"{path} {field_name}")
        assert_nothing_written(before, await row_counts(world.app), f"{path} {field_name}")
    else:
        assert response.json()[field_name] == body[field_name]
