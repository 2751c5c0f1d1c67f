"""Scenario `items_by_partner`: `GET /v1/items?partner_id=…` over 100k items on PostgreSQL, against a bare
FastAPI endpoint that serves the same page straight from asyncpg.

    python -m bench items_by_partner [--items N] [--duration S] [--rounds R] [--profile auto|always|never] …

One run: create a uniquely named PostgreSQL database, migrate it, bulk-load the data set (COPY, bench/machinery/
dataset.py), VACUUM ANALYZE; start the real app (create_app, relay_in_process=False) and the baseline app under
uvicorn, each in its own subprocess on a free loopback port (bench/machinery/servers.py); check that both return
the same first page; then load each in turn (baseline, app, baseline, app …) with `--concurrency` keep-alive
connections for `--warmup` + `--duration` seconds (bench/machinery/load.py), and print requests/s, p50/p95
latency, CPU per request (server process, PostgreSQL backends, load generator) and the ratio app/baseline against
the 0.5 target. When the ratio misses the target (or with `--profile always`) it then explains the page's SQL,
samples the app's stacks under load, times the request's steps one request at a time, and measures variants of
the app built in the server subprocess by monkeypatching (no service file is modified). The database is dropped
at the end. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machinery import run_async
from bench.machinery.dataset import Dataset, create_key, load_dataset
from bench.machinery.http_clients import RawHttpClient
from bench.machinery.load import LoadGenerator, Measurement, Target
from bench.machinery.profiling import StageTimer, print_samples, print_stages
from bench.machinery.report import BenchError, load_average, mean
from bench.machinery.servers import HOST, ServerProcess, app_server, commitments_app
from bench.postgres import ADMIN_URL, plain_url, scratch_database

describe = "GET /v1/items?partner_id=… (first page of 50, 100k items, PostgreSQL) vs bare FastAPI + asyncpg"

TARGET_RATIO = 0.5
PAGE_SIZE = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("items_by_partner")
    group.add_argument("--items", type=int, default=100_000, help="items to load (default 100000)")
    group.add_argument("--partners", type=int, default=200, help="partners, groups included (default 200)")
    group.add_argument("--concurrency", type=int, default=16, help="concurrent keep-alive connections (16)")
    group.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each measure (2)")
    group.add_argument("--duration", type=float, default=10.0, help="seconds measured per round (10)")
    group.add_argument("--rounds", type=int, default=2, help="rounds; each measures baseline then app (2)")
    group.add_argument("--profile", choices=("auto", "always", "never", "variants"), default="auto",
                       help="profile the app when the ratio misses the target (auto), always, never, or only "
                            "measure the variants (variants)")
    group.add_argument("--variants", default=None,
                       help="comma-separated app variants measured when profiling, each a '+'-joined set of "
                            f"changes ('none' to skip); known changes: {', '.join(VARIANTS)}; default: "
                            + ", ".join(DEFAULT_VARIANTS))
    group.add_argument("--pairs", type=int, default=2, help="back-to-back (app, variant) pairs per variant (2)")
    group.add_argument("--profile-out", metavar="FILE",
                       help="also write the app's sampled stacks there, folded (flamegraph.pl, speedscope)")
    group.add_argument("--client", choices=("raw", "httpx"), default="raw",
                       help="load generator: minimal HTTP/1.1 keep-alive client (raw, default) or httpx")
    group.add_argument("--seed", type=int, default=42, help="data set seed (42)")


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
    derived = {(kind.value, status.value): (
                   LABELS_FR[status],
                   [t.value for t in allowed_transitions(reader, kind, status, Relation.NONE)],
                   status in NEVER_LATE)
               for kind in ItemKind for status in Status}
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
            page.append({
                "id": str(row["id"]), "plan_id": str(row["plan_id"]), "axis_id": str(row["axis_id"]),
                "objective_id": str(row["objective_id"]), "position": row["position"],
                "reference": row["source_key"], "kind": row["kind"], "title": row["title"],
                "plan_text": row["plan_text"], "status": row["status"], "status_label": label,
                "allowed_transitions": transitions,
                "lead_partner_id": str(row["lead_partner_id"]) if row["lead_partner_id"] else None,
                "associated_partner_ids": [str(p) for p in row["associated_partner_ids"]],
                "owner_contact_id": str(row["owner_contact_id"]) if row["owner_contact_id"] else None,
                "elected_contact_id": str(row["elected_contact_id"]) if row["elected_contact_id"] else None,
                "budget": str(budget) if budget is not None else None, "tags": list(row["tags"]),
                "needs_review": row["needs_review"], "review_reason": row["review_reason"],
                "review_flags": json.loads(row["review_flags"]),
                "sent_on": sent_on.isoformat() if sent_on else None, "letter_reference": row["letter_reference"],
                "progress_percent": row["progress_percent"], "next_due_on": due.isoformat() if due else None,
                "overdue": due is not None and due < today and not closed, "version": row["version"],
                "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"])})
        next_cursor = None
        if len(rows) > limit and page:
            raw = json.dumps({"s": "created", "v": None, "id": page[-1]["id"]})
            next_cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        body = json.dumps({"items": page, "next_cursor": next_cursor}, ensure_ascii=False, separators=(",", ":"))
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

    app_module.create_engine = lambda url, **kw: db.create_engine(url, **{"pool_pre_ping": True, **kw})


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
            for group_id, member_id in await session.execute(select(GroupMembership.group_id,
                                                                    GroupMembership.member_id)):
                groups[member_id].add(group_id)
            state["groups"], state["until"] = groups, time.monotonic() + self.ttl_seconds
        return frozenset({partner_id, *state["groups"].get(partner_id, ())})

    GroupCache.partner_and_groups = partner_and_groups  # type: ignore[method-assign]


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

    for owner, attribute, name in (
            (fastapi.routing, "solve_dependencies", "FastAPI solve_dependencies (auth, session, clock, query)"),
            (fastapi.routing, "run_endpoint_function", "endpoint list_items"),
            (GroupCache, "partner_and_groups", "  GroupCache.partner_and_groups (cached 5 s)"),
            (service, "list_page", "  service.list_page"),
            (repository, "list_page", "    repository.list_page (page statement, 51 rows)"),
            (AsyncSession, "execute", "      AsyncSession.execute (checkout, statement, rows)"),
            (service, "to_read", "  service.to_read (50 ItemRead.model_validate)"),
            (AsyncSession, "close", "session close (connection back to the pool)"),
            (fastapi.routing, "serialize_response", "FastAPI serialize_response (validate + JSON)")):
        timer.wrap_async(owner, attribute, name)
    for owner, attribute, name in (
            (repository, "page_statement", "      repository.page_statement (kept per shape)"),
            (pool_base.Pool, "connect", "        pool checkout (ping if idle >= 2 s)"),
            (TypeAdapter, "dump_json", "  TypeAdapter(ItemPage).dump_json (the response body)")):
        timer.wrap_sync(owner, attribute, name)


def items_server(label: str, kind: str, database_url: str, variant: str = "", probe: str | None = None
                 ) -> ServerProcess:
    """The app ("app", with `variant`) or the baseline ("baseline") in a uvicorn subprocess; not started yet."""
    if kind == "baseline":
        return app_server(label, "bench.items_by_partner:baseline_app", database_url, probe=probe,
                          ready_path="/ping")
    return app_server(label, "bench.items_by_partner:real_app", database_url, variant=variant, probe=probe,
                      instrument="bench.items_by_partner:instrument_list_steps")


# --------------------------------------------------------------------------------------------- the run


def _compare_pages(app_body: bytes, baseline_body: bytes) -> list[str]:
    app_page, baseline_page = json.loads(app_body), json.loads(baseline_body)
    problems = []
    if len(app_page["items"]) != len(baseline_page["items"]):
        problems.append(f"{len(app_page['items'])} items vs {len(baseline_page['items'])}")
    for mine, theirs in zip(app_page["items"], baseline_page["items"], strict=False):
        differing = sorted(key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key))
        if differing:
            problems.append(f"item {mine.get('id')}: {', '.join(differing)} differ (app "
                            f"{[mine.get(k) for k in differing]} vs baseline {[theirs.get(k) for k in differing]})")
            break
    if (app_page["next_cursor"] is None) != (baseline_page["next_cursor"] is None):
        problems.append("next_cursor differs")
    return problems


async def check_same_pages(app: ServerProcess, baseline: ServerProcess, auth: dict[str, str], partner_ids: Sequence[uuid.UUID],
                           count: int = 20) -> tuple[float, float]:
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
                raise BenchError(f"payload check ({app.label}): HTTP {app_status} / {base_status}: "
                                 f"{app_body[:300]!r} / {base_body[:300]!r}")
            problems = _compare_pages(app_body, base_body)
            if problems:
                raise BenchError(f"payload check ({app.label}) failed for partner {partner_id}: {'; '.join(problems)}")
            sizes.append((len(app_body), len(base_body)))
    finally:
        await app_client.close()
        await baseline_client.close()
    return mean([size[0] for size in sizes]), mean([size[1] for size in sizes])


async def _run(args: argparse.Namespace) -> int:
    import asyncpg
    from sqlalchemy.engine import make_url

    from services.commitments.migrate import upgrade_database

    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, load average {load_average()} "
          f"(1/5/15 min); PostgreSQL {make_url(ADMIN_URL).host}:{make_url(ADMIN_URL).port or 5432}; "
          f"load: {args.concurrency} connections, {args.client} client, warm-up {args.warmup:g} s + "
          f"{args.duration:g} s per measure, {args.rounds} round(s)", flush=True)
    servers: list[ServerProcess] = []
    load = LoadGenerator(args.concurrency, args.client)
    status = 0
    async with scratch_database() as (name, database_url):
        try:
            started = time.perf_counter()
            await asyncio.to_thread(upgrade_database, database_url)
            migrated = time.perf_counter()
            connection = await asyncpg.connect(plain_url(database_url))
            try:
                dataset = await load_dataset(connection, args.items, args.partners, args.seed)
            finally:
                await connection.close()
            loaded = time.perf_counter()
            print(f"database {name}: migrated in {migrated - started:.1f} s; loaded (COPY) and vacuumed in "
                  f"{loaded - migrated:.1f} s: " + ", ".join(f"{n} {table}" for table, n in dataset.counts.items()),
                  flush=True)
            auth = {"Authorization": f"Bearer {await create_key(database_url, 'reader', 'bench reader')}"}
            await load.watch_postgres(name)

            baseline = items_server("baseline", "baseline", database_url)
            app = items_server("app", "app", database_url)
            servers += [baseline, app]
            for server in servers:
                server.start()
            for server in servers:
                await server.wait_ready()
            app_size, baseline_size = await check_same_pages(app, baseline, auth, dataset.partner_ids)
            print(f"payload check: both return the same first page, every field, for 20 partners; mean body "
                  f"{app_size / 1024:.1f} KiB (app) vs {baseline_size / 1024:.1f} KiB (baseline)", flush=True)
            ceiling = await load.measure(Target(baseline, ["/ping"], {}), "client ceiling (/ping)", warmup=0.5,
                                         duration=min(3.0, args.duration))
            print(f"load generator: {ceiling.rps:.0f} req/s on a trivial endpoint, "
                  f"{ceiling.per_request_ms(ceiling.client_cpu):.2f} ms client CPU per request", flush=True)

            targets = {"baseline": Target(baseline, [f"/items?partner_id={p}" for p in dataset.partner_ids], {}),
                       "app": Target(app, [f"/v1/items?partner_id={p}" for p in dataset.partner_ids], auth)}
            results: dict[str, list[Measurement]] = {"baseline": [], "app": []}
            for round_number in range(1, args.rounds + 1):
                for label, target in targets.items():
                    measurement = await load.measure(target, f"round {round_number} {label}", warmup=args.warmup,
                                                     duration=args.duration)
                    results[label].append(measurement)
                    print(measurement.line(), flush=True)
            for server in servers:
                server.stop()
            servers.clear()

            ratio, met = summarize(results)
            if args.profile in ("always", "variants") or (args.profile == "auto" and not met):
                await profile(args, load, database_url, dataset, auth, ratio)
        except BenchError as error:
            print(f"bench aborted: {error}", flush=True)
            status = 2
        finally:
            for server in servers:
                server.stop()
            await load.close()
    print(f"database {name} dropped; load average {load_average()}", flush=True)
    return status


def summarize(results: dict[str, list[Measurement]]) -> tuple[float, bool]:
    print()
    for label, title in (("baseline", "baseline (bare FastAPI + asyncpg)"), ("app", "app GET /v1/items?partner_id=")):
        runs = results[label]
        print(f"{title:<34} {mean([m.rps for m in runs]):8.1f} req/s  p50 {mean([m.quantile(0.5) for m in runs]):6.1f} ms"
              f"  p95 {mean([m.quantile(0.95) for m in runs]):6.1f} ms  server CPU "
              f"{mean([m.per_request_ms(m.server_cpu) for m in runs]):5.2f} ms/req  PostgreSQL CPU "
              f"{mean([m.per_request_ms(m.postgres_cpu) for m in runs]):5.2f} ms/req")
    base_rps = mean([m.rps for m in results["baseline"]])
    ratio = mean([m.rps for m in results["app"]]) / base_rps if base_rps else float("nan")
    per_round = [app.rps / base.rps for base, app in zip(results["baseline"], results["app"], strict=True) if base.rps]
    errors = sum(m.errors for runs in results.values() for m in runs)
    met = ratio >= TARGET_RATIO and not errors
    print(f"ratio app/baseline: {ratio:.2f} (per round: {', '.join(f'{r:.2f}' for r in per_round)}); "
          f"target >= {TARGET_RATIO:.2f}")
    print(f"verdict: {'MET' if met else 'NOT MET'}: the app serves {ratio:.2f}x the baseline's requests/s"
          + (f"; {errors} request(s) failed" if errors else ""), flush=True)
    return ratio, met


async def probed_run(args: argparse.Namespace, load: LoadGenerator, server: ServerProcess, target_paths: list[str],
                     headers: dict[str, str], concurrency: int | None = None) -> tuple[Measurement, dict[str, Any]]:
    """Measure `server` (started here, with its probe) and collect the probe's report."""
    server.start()
    try:
        await server.wait_ready()
        measurement = await load.measure(Target(server, target_paths, headers), server.label, warmup=args.warmup,
                                         duration=args.duration, concurrency=concurrency,
                                         on_measure_start=server.start_probe)
        return measurement, await server.probe_report()
    finally:
        server.stop()


def _plan_outline(plan: dict[str, Any], limit: int = 7) -> str:
    nodes: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if len(nodes) >= limit:
            return
        name = node["Node Type"]
        target = node.get("Index Name") or node.get("Relation Name")
        nodes.append(f"{name} ({target})" if target else name)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return " > ".join(nodes)


async def sql_check(database_url: str, dataset: Dataset) -> None:
    """EXPLAIN ANALYZE of the app's page statement (as repository.page_statement builds it, run as asyncpg
    runs it: a prepared statement with parameters, executed a few times so that PostgreSQL may switch to its
    generic plan) and of the baseline's statement, for a partner in no group and for a group member."""
    import asyncpg
    from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

    import services.commitments.models  # noqa: F401 - every table, so that foreign key types resolve
    from services.commitments.items import repository
    from services.commitments.items.repository import ItemFilters

    connection = await asyncpg.connect(plain_url(database_url))
    try:
        memberships = await connection.fetch("SELECT member_id, group_id FROM partner_group_members")
        groups: dict[uuid.UUID, list[uuid.UUID]] = collections.defaultdict(list)
        for member_id, group_id in memberships:
            groups[member_id].append(group_id)
        plain = next(p for p in dataset.partner_ids if p not in groups)
        member = next(p for p in dataset.partner_ids if p in groups)
        for label, partner in (("partner in no group", plain), ("partner in a group", member)):
            statement, parameters = repository.page_statement(
                ItemFilters(partner_ids=frozenset({partner, *groups[partner]})), "created", False, None,
                PAGE_SIZE + 1, postgresql=True)
            compiled = statement.compile(dialect=asyncpg_dialect())
            values = compiled.construct_params(parameters)
            app_params = tuple(values[name] for name in compiled.positiontup or ())
            for name, sql, params in (("app page statement", str(compiled), app_params),
                                      ("baseline statement", BASELINE_SQL, (partner, PAGE_SIZE + 1))):
                explain = await connection.prepare("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                for _ in range(6):
                    explained = json.loads(await explain.fetchval(*params))
                print(f"  {label:<20} {name:<19} {explained[0]['Execution Time']:7.2f} ms  "
                      f"{_plan_outline(explained[0]['Plan'])}")
    finally:
        await connection.close()


async def profile(args: argparse.Namespace, load: LoadGenerator, database_url: str, dataset: Dataset, auth: dict[str, str], ratio: float) -> None:
    variants = args.variants.split(",") if args.variants else list(DEFAULT_VARIANTS)
    if variants == ["none"]:
        variants = []
    if args.profile != "variants":
        await profile_steps(args, load, database_url, dataset, auth, variants)
    await measure_variants(args, load, database_url, dataset, auth, ratio, variants)


async def profile_steps(args: argparse.Namespace, load: LoadGenerator, database_url: str, dataset: Dataset, auth: dict[str, str],
                        variants: list[str]) -> None:
    app_paths = [f"/v1/items?partner_id={p}" for p in dataset.partner_ids]
    baseline_paths = [f"/items?partner_id={p}" for p in dataset.partner_ids]
    print("\n--- profile 0: the page's SQL in PostgreSQL (EXPLAIN ANALYZE, server-side time only) ---")
    await sql_check(database_url, dataset)
    print(f"\n--- profile 1: stack samples of the app's main thread, {args.concurrency} concurrent requests ---",
          flush=True)
    measurement, report = await probed_run(args, load, items_server("app, sampled", "app", database_url, probe="sampler"),
                                           app_paths, auth)
    print(measurement.line())
    if args.profile_out:
        Path(args.profile_out).write_text("".join(f"{stack} {count}\n" for stack, count in report["folded"]))
        print(f"folded stacks written to {args.profile_out} (flamegraph.pl, speedscope)")
    print_samples(report)

    print("\n--- profile 2: the request's steps, one request at a time (CPU of the server's main thread) ---",
          flush=True)
    for label, variant in (("app", ""), *((v, v) for v in variants if "+" in v)):
        measurement, report = await probed_run(
            args, load, items_server(label, "app", database_url, variant, probe="timings"), app_paths, auth, concurrency=1)
        print(f"{label}: {measurement.rps:.1f} req/s one at a time, server process CPU "
              f"{measurement.per_request_ms(measurement.server_cpu):.2f} ms/req, "
              f"new PG sessions {measurement.new_sessions}")
        print_stages(report)
    baseline_one = await bench_single(args, load, items_server("baseline", "baseline", database_url), baseline_paths)
    print(f"baseline: {baseline_one.rps:.1f} req/s one at a time, server process CPU "
          f"{baseline_one.per_request_ms(baseline_one.server_cpu):.2f} ms/req")


async def measure_variants(args: argparse.Namespace, load: LoadGenerator, database_url: str, dataset: Dataset, auth: dict[str, str], ratio: float,
                           variants: list[str]) -> None:
    app_paths = [f"/v1/items?partner_id={p}" for p in dataset.partner_ids]
    print(f"\n--- profile 3: variants of the app, built in the server subprocess (service code untouched), "
          f"{args.concurrency} concurrent requests; each measured in {args.pairs} pairs (app, variant) of "
          f"{args.duration / 2:g} s, back to back, so that the machine's drift cancels out ---", flush=True)
    baseline = items_server("baseline", "baseline", database_url)
    app = items_server("app", "app", database_url)
    rows: list[tuple[str, list[Measurement], list[Measurement]]] = []  # variant, its runs, the app's runs
    try:
        for server in (baseline, app):
            server.start()
        for server in (baseline, app):
            await server.wait_ready()
        app_target = Target(app, app_paths, auth)
        await load.measure(app_target, "app warm-up", warmup=args.warmup, duration=0)
        for variant in variants:
            server = items_server(variant, "app", database_url, variant)
            server.start()
            try:
                await server.wait_ready()
                await check_same_pages(server, baseline, auth, dataset.partner_ids, count=10)
                target = Target(server, app_paths, auth)
                await load.measure(target, "warm-up", warmup=args.warmup, duration=0)
                runs: list[Measurement] = []
                app_runs: list[Measurement] = []
                for _ in range(args.pairs):
                    app_runs.append(await load.measure(app_target, "app", warmup=0.5, duration=args.duration / 2))
                    runs.append(await load.measure(target, variant, warmup=0.5, duration=args.duration / 2))
            finally:
                server.stop()
            rows.append((variant, runs, app_runs))
            gain = mean([m.rps / a.rps for m, a in zip(runs, app_runs, strict=True)])
            print(f"{variant}: {mean([m.rps for m in runs]):.1f} req/s vs app {mean([m.rps for m in app_runs]):.1f}"
                  f" -> x{gain:.2f}; server CPU {mean([m.per_request_ms(m.server_cpu) for m in runs]):.2f} vs "
                  f"{mean([m.per_request_ms(m.server_cpu) for m in app_runs]):.2f} ms/req", flush=True)
    finally:
        for server in (baseline, app):
            server.stop()
    print(f"\n{'variant (x app: paired ratio of req/s; projected: x app times the ratio app/baseline above)':<96}"
          f"  {'x app':>5}  {'projected /baseline':>19}  {'CPU ms/req saved':>16}")
    for variant, runs, app_runs in rows:
        gain = mean([m.rps / a.rps for m, a in zip(runs, app_runs, strict=True)])
        saved = mean([a.per_request_ms(a.server_cpu) - m.per_request_ms(m.server_cpu)
                       for m, a in zip(runs, app_runs, strict=True)])
        print(f"{variant:<96}  {gain:5.2f}  {gain * ratio:19.2f}  {saved:16.2f}")


async def bench_single(args: argparse.Namespace, load: LoadGenerator, server: ServerProcess, paths: list[str]) -> Measurement:
    server.start()
    try:
        await server.wait_ready()
        return await load.measure(Target(server, paths, {}), server.label, warmup=args.warmup,
                                   duration=args.duration, concurrency=1)
    finally:
        server.stop()


def run(args: argparse.Namespace) -> int:
    return run_async(_run, args)
