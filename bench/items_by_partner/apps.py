"""The two servers of `items_by_partner`: the baseline (a bare FastAPI endpoint serving the page straight from
asyncpg) and the service's app, with the variants profile 3 measures; both served by bench/machinery/servers.py
in a subprocess of their own. And the check that they return the same pages."""

from __future__ import annotations

import base64
import collections
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from bench.machinery.http_clients import RawHttpClient
from bench.machinery.postgres import plain_url
from bench.machinery.profiling import StageTimer
from bench.machinery.report import BenchError, mean
from bench.machinery.servers import HOST, ServerProcess, app_server, commitments_app

PAGE_SIZE = 50


# --------------------------------------------------------------------------------------------- baseline app

# The partner's own items and its groups' items, first page by id. Each concerned partner's first ids come
# from the (partner_id, item_id) index through a LATERAL ... LIMIT, so the plan never walks the items' primary
# key (which a plain `IN (SELECT ... UNION ALL ...)` does here, at 10-40 ms a page); then the page's partners,
# tags and next open due date in the same statement.
BASELINE_SQL = """
WITH page AS (
    SELECT i.id, i.plan_id, i.axis_id, i.objective_id, i.position, i.source_key, i.kind, i.title, i.plan_text,
           i.status, i.owner_contact_id, i.elected_contact_id, i.budget, i.needs_review, i.review_reason,
           i.review_flags, i.sent_on, i.letter_reference, i.progress_percent, i.version, i.created_at, i.updated_at
    FROM items i
    WHERE i.id IN (
        SELECT first_ids.item_id
        FROM (SELECT $1::uuid AS partner_id
              UNION
              SELECT g.group_id FROM partner_group_members g WHERE g.member_id = $1) AS concerned
        CROSS JOIN LATERAL (SELECT ip.item_id FROM item_partners ip WHERE ip.partner_id = concerned.partner_id
                            ORDER BY ip.item_id LIMIT $2) AS first_ids)
    ORDER BY i.id
    LIMIT $2)
SELECT page.*,
       (SELECT ip.partner_id FROM item_partners ip
        WHERE ip.item_id = page.id AND ip.role = 'lead' ORDER BY ip.partner_id LIMIT 1) AS lead_partner_id,
       ARRAY(SELECT ip.partner_id FROM item_partners ip
             WHERE ip.item_id = page.id AND ip.role <> 'lead' ORDER BY ip.partner_id) AS associated_partner_ids,
       ARRAY(SELECT t.tag FROM item_tags t WHERE t.item_id = page.id ORDER BY t.tag) AS tags,
       (SELECT min(d.due_on) FROM deadlines d WHERE d.item_id = page.id AND d.met_on IS NULL) AS next_due_on
FROM page
ORDER BY page.id
"""


def _iso(value: datetime) -> str:
    # Pydantic's JSON form of an aware UTC datetime.
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def baseline_app(database_url: str, variant: str = "") -> Any:
    """A bare FastAPI app: one endpoint, one SQL statement on an asyncpg pool, json.dumps of plain dicts.
    It returns the same fields as the service's ItemPage so the payloads are comparable. It has no variant."""
    if variant:
        raise SystemExit(f"the baseline has no variant {variant!r}")
    import asyncpg
    from fastapi import FastAPI
    from fastapi.responses import Response

    from services.commitments.items.lifecycle import LABELS_FR, NEVER_LATE, ItemKind, Status
    from services.commitments.items.permissions import Relation, allowed_transitions
    from shared.auth import Principal
    from shared.clock import PARIS
    from shared.roles import Role

    # The measure's key is a reader's: the transitions it may make, by the service's own matrix (none today).
    reader = Principal(role=Role.READER)
    derived = {
        (kind.value, status.value): (
            LABELS_FR[status],
            [t.value for t in allowed_transitions(reader, kind, status, Relation.NONE)],
            status in NEVER_LATE,
        )
        for kind in ItemKind
        for status in Status
    }
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        # The same pool size as the service's engine (pool_size 10 + max_overflow 10).
        state["pool"] = await asyncpg.create_pool(plain_url(database_url), min_size=2, max_size=20)
        try:
            yield
        finally:
            await state["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ping")
    async def ping() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get("/items")
    async def items(partner_id: uuid.UUID, limit: int = PAGE_SIZE) -> Response:
        async with state["pool"].acquire() as connection:
            rows = await connection.fetch(BASELINE_SQL, partner_id, limit + 1)
        today = datetime.now(PARIS).date()
        page = []
        for row in rows[:limit]:
            label, transitions, closed = derived[(row["kind"], row["status"])]
            due = row["next_due_on"]
            budget, sent_on = row["budget"], row["sent_on"]
            page.append(
                {
                    "id": str(row["id"]),
                    "plan_id": str(row["plan_id"]),
                    "axis_id": str(row["axis_id"]),
                    "objective_id": str(row["objective_id"]),
                    "position": row["position"],
                    "reference": row["source_key"],
                    "kind": row["kind"],
                    "title": row["title"],
                    "plan_text": row["plan_text"],
                    "status": row["status"],
                    "status_label": label,
                    "allowed_transitions": transitions,
                    "lead_partner_id": str(row["lead_partner_id"]) if row["lead_partner_id"] else None,
                    "associated_partner_ids": [str(p) for p in row["associated_partner_ids"]],
                    "owner_contact_id": str(row["owner_contact_id"]) if row["owner_contact_id"] else None,
                    "elected_contact_id": str(row["elected_contact_id"])
                    if row["elected_contact_id"]
                    else None,
                    "budget": str(budget) if budget is not None else None,
                    "tags": list(row["tags"]),
                    "needs_review": row["needs_review"],
                    "review_reason": row["review_reason"],
                    "review_flags": json.loads(row["review_flags"]),
                    "sent_on": sent_on.isoformat() if sent_on else None,
                    "letter_reference": row["letter_reference"],
                    "progress_percent": row["progress_percent"],
                    "next_due_on": due.isoformat() if due else None,
                    "overdue": due is not None and due < today and not closed,
                    "version": row["version"],
                    "created_at": _iso(row["created_at"]),
                    "updated_at": _iso(row["updated_at"]),
                }
            )
        next_cursor = None
        if len(rows) > limit and page:
            raw = json.dumps({"s": "created", "v": None, "id": page[-1]["id"]})
            next_cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        body = json.dumps(
            {"items": page, "next_cursor": next_cursor}, ensure_ascii=False, separators=(",", ":")
        )
        return Response(body.encode(), media_type="application/json")

    return app


# --------------------------------------------------------------------------------------------- app variants
# Each variant changes how the real app is built, inside the server subprocess only (monkeypatching), to
# measure what a change in the service code would bring. No service file is touched. Variants combine with
# "+" ("a+b"); they are applied in the order of VARIANTS whatever the order given.


def _variant_always_pre_ping() -> None:
    """Engine with pool_pre_ping, as before 2026-11-26: every checkout pings the server (with asyncpg outside
    a transaction: BEGIN, ping, ROLLBACK), where the service now pings only connections idle for 2 s."""
    import services.commitments.app as app_module
    from shared import db

    # The app module's own name for the engine factory, replaced in this server process only.
    app_module.create_engine = lambda url, **kw: db.create_engine(  # type: ignore[attr-defined]  # patches the app's own import
        url, **{"pool_pre_ping": True, **kw}
    )


def _variant_group_map_cache() -> None:
    """GroupCache keeping every group membership (one statement per 5 s and process) instead of one entry per
    partner: the load cycles over 195 partners, so with a 5 s entry per partner about one request in five
    misses and runs its own groups_of statement."""
    from sqlalchemy import select

    from services.commitments.partners.models import GroupMembership
    from services.commitments.partners.service import GroupCache

    state: dict[str, Any] = {"until": 0.0, "groups": {}}

    async def partner_and_groups(self: Any, session: Any, partner_id: uuid.UUID) -> frozenset[uuid.UUID]:
        if state["until"] <= time.monotonic():
            groups: dict[uuid.UUID, set[uuid.UUID]] = collections.defaultdict(set)
            for group_id, member_id in await session.execute(
                select(GroupMembership.group_id, GroupMembership.member_id)
            ):
                groups[member_id].add(group_id)
            state["groups"], state["until"] = groups, time.monotonic() + self.ttl_seconds
        return frozenset({partner_id, *state["groups"].get(partner_id, ())})

    GroupCache.partner_and_groups = partner_and_groups  # type: ignore[method-assign]  # the variant replaces the method


def _variant_gc_freeze() -> None:
    """gc.freeze() once the app is built: the objects made at start-up (modules, routes, schemas, ORM
    mappers) leave the collector's generations, so that the collections a request's allocations trigger
    scan less. Applied by real_app after create_app."""


# Earlier variants (autocommit reads, cached groups, single statement, tracing off ...) are now the service's
# own code; see bench/README.md for what each one brought.
VARIANTS: dict[str, Callable[[], None]] = {
    "always-pre-ping": _variant_always_pre_ping,
    "group-map-cache": _variant_group_map_cache,
    "gc-freeze": _variant_gc_freeze,
}
DEFAULT_VARIANTS = ("always-pre-ping", "group-map-cache", "gc-freeze", "group-map-cache+gc-freeze")


def real_app(database_url: str, variant: str) -> Any:
    """The service's app (bench/machinery/servers.py's `commitments_app`) with the changes of `variant` applied."""
    wanted = set(filter(None, variant.split("+")))
    unknown = wanted - VARIANTS.keys()
    if unknown:
        raise SystemExit(f"unknown variant(s) {', '.join(sorted(unknown))}; known: {', '.join(VARIANTS)}")
    for name, apply in VARIANTS.items():
        if name in wanted:
            apply()
    app = commitments_app(database_url)
    if "gc-freeze" in wanted:
        import gc

        gc.freeze()
    return app


# --------------------------------------------------------------------------------------------- servers


def instrument_list_steps(timer: StageTimer) -> None:
    """The steps of `GET /v1/items` that profile 2 times (`--probe timings`, one request at a time)."""
    import fastapi.routing
    from pydantic import TypeAdapter
    from sqlalchemy.ext.asyncio.session import AsyncSession
    from sqlalchemy.pool import base as pool_base

    from services.commitments.items import repository, service
    from services.commitments.partners.service import GroupCache

    async_steps: tuple[tuple[Any, str, str], ...] = (
        (fastapi.routing, "solve_dependencies", "FastAPI solve_dependencies (auth, session, clock, query)"),
        (fastapi.routing, "run_endpoint_function", "endpoint list_items"),
        (GroupCache, "partner_and_groups", "  GroupCache.partner_and_groups (cached 5 s)"),
        (service, "list_page", "  service.list_page"),
        (repository, "list_page", "    repository.list_page (page statement, 51 rows)"),
        (AsyncSession, "execute", "      AsyncSession.execute (checkout, statement, rows)"),
        (service, "to_read", "  service.to_read (50 ItemRead.model_validate)"),
        (AsyncSession, "close", "session close (connection back to the pool)"),
        (fastapi.routing, "serialize_response", "FastAPI serialize_response (validate + JSON)"),
    )
    sync_steps: tuple[tuple[Any, str, str], ...] = (
        (repository, "page_statement", "      repository.page_statement (kept per shape)"),
        (pool_base.Pool, "connect", "        pool checkout (ping if idle >= 2 s)"),
        (TypeAdapter, "dump_json", "  TypeAdapter(ItemPage).dump_json (the response body)"),
    )
    for owner, attribute, name in async_steps:
        timer.wrap_async(owner, attribute, name)
    for owner, attribute, name in sync_steps:
        timer.wrap_sync(owner, attribute, name)


def items_server(
    label: str, kind: str, database_url: str, variant: str = "", probe: str | None = None
) -> ServerProcess:
    """The app ("app", with `variant`) or the baseline ("baseline") in a uvicorn subprocess; not started yet."""
    if kind == "baseline":
        return app_server(
            label, "bench.items_by_partner.apps:baseline_app", database_url, probe=probe, ready_path="/ping"
        )
    return app_server(
        label,
        "bench.items_by_partner.apps:real_app",
        database_url,
        variant=variant,
        probe=probe,
        instrument="bench.items_by_partner.apps:instrument_list_steps",
    )


def _compare_pages(app_body: bytes, baseline_body: bytes) -> list[str]:
    app_page, baseline_page = json.loads(app_body), json.loads(baseline_body)
    problems = []
    if len(app_page["items"]) != len(baseline_page["items"]):
        problems.append(f"{len(app_page['items'])} items vs {len(baseline_page['items'])}")
    for mine, theirs in zip(app_page["items"], baseline_page["items"], strict=False):
        differing = sorted(key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key))
        if differing:
            problems.append(
                f"item {mine.get('id')}: {', '.join(differing)} differ (app "
                f"{[mine.get(k) for k in differing]} vs baseline {[theirs.get(k) for k in differing]})"
            )
            break
    if (app_page["next_cursor"] is None) != (baseline_page["next_cursor"] is None):
        problems.append("next_cursor differs")
    return problems


async def check_same_pages(
    app: ServerProcess,
    baseline: ServerProcess,
    auth: dict[str, str],
    partner_ids: Sequence[uuid.UUID],
    count: int = 20,
) -> tuple[float, float]:
    """Both servers return the same first page for `count` partners (group members among them), or the
    comparison means nothing: BenchError. Returns the mean body sizes (app, baseline)."""
    app_client, baseline_client = RawHttpClient(HOST, app.port, auth), RawHttpClient(HOST, baseline.port, {})
    await app_client.connect()
    await baseline_client.connect()
    sizes = []
    try:
        for partner_id in partner_ids[:count]:
            app_status, app_body = await app_client.get(f"/v1/items?partner_id={partner_id}")
            base_status, base_body = await baseline_client.get(f"/items?partner_id={partner_id}")
            if app_status != 200 or base_status != 200:
                raise BenchError(
                    f"payload check ({app.label}): HTTP {app_status} / {base_status}: "
                    f"{app_body[:300]!r} / {base_body[:300]!r}"
                )
            problems = _compare_pages(app_body, base_body)
            if problems:
                raise BenchError(
                    f"payload check ({app.label}) failed for partner {partner_id}: {'; '.join(problems)}"
                )
            sizes.append((len(app_body), len(base_body)))
    finally:
        await app_client.close()
        await baseline_client.close()
    return mean([size[0] for size in sizes]), mean([size[1] for size in sizes])
