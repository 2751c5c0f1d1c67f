"""Scenario `items_by_partner`: `GET /v1/items?partner_id=…` over 100k items on PostgreSQL, against a bare
FastAPI endpoint that serves the same page straight from asyncpg.

    python -m bench items_by_partner [--items N] [--duration S] [--rounds R] [--profile auto|always|never] …

One run: create a uniquely named PostgreSQL database, migrate it, bulk-load the data set (COPY), VACUUM ANALYZE;
start the real app (create_app, relay_in_process=False) and the baseline app under uvicorn, each in its own
subprocess on a free loopback port; check that both return the same first page; then load each in turn
(baseline, app, baseline, app …) with `--concurrency` keep-alive connections for `--warmup` + `--duration`
seconds, and print requests/s, p50/p95 latency, CPU per request (server process, PostgreSQL backends, load
generator) and the ratio app/baseline against the 0.5 target. When the ratio misses the target (or with
`--profile always`) it then explains the page's SQL, samples the app's stacks under load, times the request's
steps one request at a time, and measures variants of the app built in the server subprocess by
monkeypatching (no service file is modified). The database is dropped at the end. See bench/README.md.

This module is also the servers' entry point: `python -m bench.items_by_partner serve …` (internal).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from bench.postgres import ADMIN_URL, admin_execute, plain_url

describe = "GET /v1/items?partner_id=… (first page of 50, 100k items, PostgreSQL) vs bare FastAPI + asyncpg"

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.5
PAGE_SIZE = 50
NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


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


# --------------------------------------------------------------------------------------------- data set

TAGS = ["logement", "voirie", "propreté", "sécurité", "jeunesse", "emploi", "commerce", "transport", "santé",
        "éducation", "culture", "sport", "espaces verts", "éclairage", "stationnement", "accessibilité",
        "rénovation", "médiation", "insertion", "seniors", "petite enfance", "numérique", "énergie", "eau",
        "déchets", "tranquillité", "associations", "concertation", "mobilité douce", "patrimoine",
        "plan d'action municipal 2021", "Sceaux", "quartier des Blagis", "priorité 1", "priorité 2",
        "bailleurs", "copropriétés", "écoles", "marché", "vie locale"]
_TEXT = ("la ville demande au bailleur de rénover les halls d'entrée et de remplacer les boîtes aux lettres "
         "du centre commercial afin d'améliorer la propreté des parties communes et la sécurité des accès "
         "aux parkings souterrains tout en associant les habitants à la concertation sur l'aménagement des "
         "espaces extérieurs le département s'engage à étudier la requalification de l'avenue et la "
         "création d'une piste cyclable sécurisée entre la gare et le collège ainsi que le renforcement de "
         "l'éclairage public aux abords des écoles maternelles et élémentaires du quartier")
WORDS = _TEXT.split()
REQUEST_STATUSES = ["draft", "sent", "acknowledged", "accepted", "partially_accepted", "declined", "no_answer",
                    "in_progress", "delivered", "verified", "abandoned"]
COMMITMENT_STATUSES = ["planned", "in_progress", "done", "abandoned"]
PARTNER_KINDS = ["bailleur", "association", "etat", "departement", "entreprise", "etablissement"]


@dataclass
class Dataset:
    partner_ids: list[uuid.UUID]  # the ordinary partners (not groups) the load cycles over
    counts: dict[str, int]


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words: list[str] = []
    size = rng.randint(low, high)
    while sum(len(w) + 1 for w in words) < size:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize()


async def load_dataset(connection: Any, n_items: int, n_partners: int, seed: int) -> Dataset:
    """Plans, axes, objectives, partners (a few groups among them), items with 1 lead + 0-2 associated
    partners, 1-2 tags and 1-2 deadlines each; ids from shared.db.new_id() so they are time-ordered."""
    from shared.db import new_id

    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    n_groups = max(1, n_partners // 40)
    partners = []
    for index in range(n_partners):
        is_group = index < n_groups
        name = f"Groupe de partenaires {index:03d}" if is_group else f"Partenaire {index:04d}"
        siret = None if is_group or rng.random() < 0.5 else f"{rng.randrange(10**13, 10**14)}"
        partners.append((new_id(), name, "groupe" if is_group else rng.choice(PARTNER_KINDS), is_group, siret,
                         now, now))
    groups = [row[0] for row in partners[:n_groups]]
    members = [row[0] for row in partners[n_groups:]]
    memberships = [(group, member) for group in groups for member in rng.sample(members, min(8, len(members)))]

    plans, axes, objectives = [], [], []
    for plan_number in range(20):
        plan_id = new_id()
        plans.append((plan_id, f"Plan d'action {plan_number:02d}", "Sceaux", f"Quartier {plan_number:02d}",
                      date(2021, 1, 1) + timedelta(days=30 * plan_number), now))
        for axis_number in range(1, 6):
            axis_id = new_id()
            axes.append((axis_id, plan_id, str(axis_number), _sentence(rng, 30, 80), axis_number))
            for position, letter in enumerate("ABCD", start=1):
                objectives.append((new_id(), plan_id, axis_id, letter, _sentence(rng, 30, 120),
                                   _sentence(rng, 0, 200), position, str(axis_number)))

    sentences = [_sentence(rng, 80, 160) for _ in range(200)]
    titles = [_sentence(rng, 30, 110) for _ in range(500)]
    positions: dict[uuid.UUID, int] = collections.defaultdict(int)
    start = now - timedelta(days=3 * 365)
    step = timedelta(days=3 * 365) / max(n_items, 1)
    items, item_partners, item_tags, deadlines = [], [], [], []
    for index in range(n_items):
        item_id = new_id()
        objective_id, plan_id, axis_id, letter, *_rest, axis_label = objectives[rng.randrange(len(objectives))]
        positions[objective_id] += 1
        position = positions[objective_id]
        is_request = rng.random() < 0.8
        status = rng.choice(REQUEST_STATUSES if is_request else COMMITMENT_STATUSES)
        created = start + step * index
        sent = is_request and status != "draft"
        needs_review = rng.random() < 0.05
        budget = Decimal(rng.randrange(100_000, 500_000_000)) / 100 if rng.random() < 0.3 else None
        items.append((
            item_id, plan_id, axis_id, objective_id, position, f"{axis_label}.{letter}.{position}",
            "request" if is_request else "commitment", rng.choice(titles),
            " ".join(rng.sample(sentences, rng.randint(2, 5))), status, None, budget, needs_review,
            "Partenaire non reconnu dans le texte du plan." if needs_review else None,
            created.date() + timedelta(days=10) if sent else None,
            f"SCX/DGS/{created.year}-{index % 1000:03d}" if sent else None,
            rng.choice([10, 25, 50, 75, 90]) if status == "in_progress" else None,
            created.date() + timedelta(days=20) if status not in ("draft", "planned") else None,
            1, created, created))
        lead = rng.choice(groups) if rng.random() < 0.02 else rng.choice(members)
        item_partners.append((item_id, lead, "lead"))
        for partner in rng.sample(members, rng.choice((0, 0, 1, 2))):
            if partner != lead:
                item_partners.append((item_id, partner, "associated"))
        for tag in rng.sample(TAGS, rng.randint(1, 2)):
            item_tags.append((item_id, tag))
        for number in range(rng.randint(1, 2)):
            due = created.date() + timedelta(days=rng.randint(30, 1000))
            met = due - timedelta(days=rng.randint(0, 20)) if rng.random() < 0.35 else None
            deadlines.append((new_id(), item_id, ("response", "delivery", "milestone")[number + rng.randint(0, 1)],
                              None, due, None, met, 1, created, created))

    tables: list[tuple[str, list[str], list[tuple[Any, ...]]]] = [
        ("partners", ["id", "name", "kind", "is_group", "siret", "created_at", "updated_at"], partners),
        ("partner_group_members", ["group_id", "member_id"], memberships),
        ("plans", ["id", "title", "commune", "territory", "adopted_on", "created_at"], plans),
        ("axes", ["id", "plan_id", "number", "title", "position"], axes),
        ("objectives", ["id", "plan_id", "axis_id", "letter", "title", "context", "position"],
         [row[:-1] for row in objectives]),
        ("items", ["id", "plan_id", "axis_id", "objective_id", "position", "source_key", "kind", "title",
                   "plan_text", "status", "owner_contact_id", "budget", "needs_review", "review_reason", "sent_on",
                   "letter_reference", "progress_percent", "status_changed_on", "version", "created_at",
                   "updated_at"], items),
        ("item_partners", ["item_id", "partner_id", "role"], item_partners),
        ("item_tags", ["item_id", "tag"], item_tags),
        ("deadlines", ["id", "item_id", "kind", "label", "due_on", "original_wording", "met_on", "version",
                       "created_at", "updated_at"], deadlines),
    ]
    async with connection.transaction():
        for table, columns, records in tables:
            await connection.copy_records_to_table(table, records=records, columns=columns)
    # VACUUM too: a freshly copied table is not all-visible, and index-only scans would visit the heap,
    # which a database in steady state (autovacuum) does not.
    await connection.execute("VACUUM ANALYZE")
    ordinary = members[:]
    rng.shuffle(ordinary)
    return Dataset(partner_ids=ordinary, counts={table: len(records) for table, _, records in tables})


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


def baseline_app(database_url: str) -> Any:
    """A bare FastAPI app: one endpoint, one SQL statement on an asyncpg pool, json.dumps of plain dicts.
    It returns the same fields as the service's ItemPage so the payloads are comparable."""
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

    app_module.create_engine = lambda url, **kw: db.create_engine(  # type: ignore[attr-defined]  # patches the app's own import
        url, **{"pool_pre_ping": True, **kw})


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
    wanted = set(filter(None, variant.split("+")))
    unknown = wanted - VARIANTS.keys()
    if unknown:
        raise SystemExit(f"unknown variant(s) {', '.join(sorted(unknown))}; known: {', '.join(VARIANTS)}")
    for name, apply in VARIANTS.items():
        if name in wanted:
            apply()
    from services.commitments.app import create_app
    from services.commitments.config import CommitmentsSettings
    from shared.clock import SystemClock

    settings = CommitmentsSettings(database_url=database_url, relay_in_process=False, nats_url=NATS_URL,
                                   otel_exporter_otlp_endpoint=None)
    app = create_app(settings, SystemClock())
    if "gc-freeze" in wanted:
        import gc

        gc.freeze()
    return app


# --------------------------------------------------------------------------------------------- stage timings


class StageTimer:
    """Wraps the steps of the list endpoint to add up their CPU (this thread) and wall time. Meaningful one
    request at a time only: an awaited step also counts whatever other requests run meanwhile."""

    def __init__(self) -> None:
        self.stats: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
        self.order: list[str] = []
        self.requests = 0

    def reset(self) -> None:
        self.stats.clear()
        self.requests = 0

    def _add(self, name: str, cpu: float, wall: float) -> None:
        entry = self.stats[name]
        entry[0] += 1
        entry[1] += cpu
        entry[2] += wall

    def wrap_async(self, owner: Any, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)
        self.order.append(name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self._add(name, time.thread_time() - cpu, time.perf_counter() - wall)

        setattr(owner, attribute, timed)

    def wrap_app(self, app: Any) -> Any:
        self.order.insert(0, "whole request (ASGI app, middlewares included)")

        async def timed_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                await app(scope, receive, send)
            finally:
                self.requests += 1
                self._add(self.order[0], time.thread_time() - cpu, time.perf_counter() - wall)

        return timed_app

    def wrap_sync(self, owner: Any, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)
        self.order.append(name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._add(name, time.thread_time() - cpu, time.perf_counter() - wall)

        setattr(owner, attribute, timed)

    def instrument(self, app: Any) -> Any:
        import fastapi.routing
        from pydantic import TypeAdapter
        from sqlalchemy.ext.asyncio.session import AsyncSession
        from sqlalchemy.pool import base as pool_base

        from services.commitments.items import repository, service
        from services.commitments.partners.service import GroupCache

        wrapped = self.wrap_app(app)
        owner: Any  # modules and classes alike
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
            self.wrap_async(owner, attribute, name)
        for owner, attribute, name in (
                (repository, "page_statement", "      repository.page_statement (kept per shape)"),
                (pool_base.Pool, "connect", "        pool checkout (ping if idle >= 2 s)"),
                (TypeAdapter, "dump_json", "  TypeAdapter(ItemPage).dump_json (the response body)")):
            self.wrap_sync(owner, attribute, name)
        return wrapped

    def report(self) -> dict[str, Any]:
        return {"requests": self.requests,
                "stages": [[name, *self.stats[name]] for name in self.order if name in self.stats]}


# --------------------------------------------------------------------------------------------- stack sampler


class StackSampler:
    """A poor man's py-spy: a thread that samples the main thread's Python stack every `interval` seconds.
    Time spent in C under the event loop (uvloop, httptools, asyncpg's protocol) shows as the loop itself."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.samples = self.busy = self.greenlet = 0
        self.leaf: collections.Counter[str] = collections.Counter()
        self.inclusive: collections.Counter[str] = collections.Counter()
        self.packages: collections.Counter[str] = collections.Counter()
        self.stacks: collections.Counter[tuple[str, ...]] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="stack-sampler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        target = threading.main_thread().ident
        assert target is not None  # the main thread runs
        while not self._stop.wait(self.interval):
            frame = sys._current_frames().get(target)
            if frame is None:
                continue
            labels = []
            while frame is not None:
                labels.append(_frame_label(frame.f_code.co_filename, frame.f_code.co_name))
                frame = frame.f_back
            self.samples += 1
            self.stacks[tuple(reversed(labels))] += 1
            self.leaf[labels[0]] += 1
            self.packages[_component(labels)] += 1
            if labels[0] != IDLE:
                self.busy += 1
                if not labels[-1].startswith("<frozen runpy>"):
                    # A greenlet's stack ends at its own root: SQLAlchemy's sync layer under greenlet_spawn.
                    self.greenlet += 1
            for label in set(labels):
                self.inclusive[label] += 1

    def report(self) -> dict[str, Any]:
        return {"samples": self.samples, "busy": self.busy, "greenlet": self.greenlet,
                "packages": self.packages.most_common(),
                "leaf": self.leaf.most_common(40), "inclusive": self.inclusive.most_common(400),
                "folded": [[";".join(stack), count] for stack, count in self.stacks.most_common()]}


IDLE = "(event loop: idle, or C code under it: uvloop / httptools / asyncpg protocol)"


def _frame_label(filename: str, function: str) -> str:
    path = os.path.normpath(filename).replace("\\", "/")
    if "/site-packages/" in path:
        path = path.split("/site-packages/", 1)[1]
    elif path.startswith(str(ROOT) + "/"):
        path = path[len(str(ROOT)) + 1:]
    elif "/lib/python3" in path:
        path = "stdlib/" + path.split("/lib/python3", 1)[1].split("/", 1)[-1]
    if (path, function) in {("stdlib/asyncio/runners.py", "run"), ("stdlib/asyncio/base_events.py", "run_forever"),
                            ("stdlib/asyncio/base_events.py", "run_until_complete")}:
        return IDLE
    return f"{path}:{function}"


def _component(labels: list[str]) -> str:
    """Who is doing the work in a sample (leaf first): the innermost frame outside the standard library."""
    if labels[0] == IDLE:
        return IDLE
    for label in labels:
        path = label.split(":", 1)[0]
        if path.startswith(("stdlib/", "<")):
            continue
        head = path.removesuffix(".py").split("/")
        return "/".join(head[:3] if head[0] == "services" else head[:2] if head[0] in ("shared", "bench") else head[:1])
    return "stdlib: " + labels[0]


# --------------------------------------------------------------------------------------------- servers


def serve(kind: str, variant: str, port: int, database_url: str, probe: str | None, probe_to: str | None) -> None:
    """Subprocess entry: run one server until SIGTERM. With a probe ("sampler" or "timings"), SIGUSR1 starts
    (or resets) it and SIGUSR2 writes its report, as JSON, to `probe_to`."""
    import logging

    import uvicorn

    logging.basicConfig(level=logging.WARNING)
    app = baseline_app(database_url) if kind == "baseline" else real_app(database_url, variant)
    if probe and probe_to:
        sampler, timer = StackSampler(), StageTimer()
        if probe == "timings":
            app = timer.instrument(app)

        def start(*_: Any) -> None:
            if probe == "sampler":
                sampler.start()
            else:
                timer.reset()

        def stop(*_: Any) -> None:
            if probe == "sampler":
                sampler.stop()
            report = sampler.report() if probe == "sampler" else timer.report()
            Path(probe_to).write_text(json.dumps(report))

        signal.signal(signal.SIGUSR1, start)
        signal.signal(signal.SIGUSR2, stop)
    # As `python -m services.commitments serve` runs it (uvloop + httptools when installed), minus access logs.
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    label: str
    kind: str  # "app" | "baseline"
    variant: str
    database_url: str
    probe: str | None = None  # "sampler" | "timings"
    probe_to: str | None = None
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    def start(self) -> None:
        self.port = _free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server, closed in stop()
        command = [sys.executable, "-m", "bench.items_by_partner", "serve", "--kind", self.kind,
                   "--variant", self.variant, "--port", str(self.port), "--database-url", self.database_url]
        if self.probe and self.probe_to:
            command += ["--probe", self.probe, "--probe-to", self.probe_to]
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def ready_path(self) -> str:
        return "/ping" if self.kind == "baseline" else "/healthz"

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BenchError(f"{self.label} server exited with {self.process.returncode}:\n{self.output()}")
            with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
                client = RawHttpClient(HOST, self.port, {})
                await client.connect()
                try:
                    status, _ = await asyncio.wait_for(client.get(self.ready_path), 5)
                finally:
                    await client.close()
                if status == 200:
                    return
            await asyncio.sleep(0.1)
        raise BenchError(f"{self.label} server not ready after {timeout:.0f} s:\n{self.output()}")

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.log is not None:
            self.log.close()
            self.log = None

    def output(self) -> str:
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-4000:]

    def cpu_seconds(self) -> float:
        return _proc_cpu(self.process.pid) if self.process is not None else 0.0


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --------------------------------------------------------------------------------------------- load generator


class RawHttpClient:
    """A minimal HTTP/1.1 keep-alive client (GET only): far cheaper per request than httpx, so that on a
    2-core machine the load generator takes as little CPU as possible from the servers it measures."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            self.writer = None

    async def get(self, path: str) -> tuple[int, bytes]:
        status, _headers, body = await self.request("GET", path)
        return status, body

    async def request(self, method: str, path: str, json_body: bytes | None = None
                      ) -> tuple[int, dict[bytes, bytes], bytes]:
        """One request (a JSON body for a POST); the status, the headers (lower-cased) and the body."""
        assert self.reader is not None and self.writer is not None
        body_headers = b"" if json_body is None else (b"Content-Type: application/json\r\nContent-Length: "
                                                      + str(len(json_body)).encode() + b"\r\n")
        self.writer.write(method.encode() + b" " + path.encode("latin-1") + b" HTTP/1.1\r\nHost: "
                          + self.host.encode() + b"\r\n" + self.extra + body_headers + b"\r\n" + (json_body or b""))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name:
                headers[name.strip().lower()] = value.strip().lower()
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding") == b"chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                chunks.append((await self.reader.readexactly(size + 2))[:-2])
            body = b"".join(chunks)
        else:
            body = await self.reader.read()
        if headers.get(b"connection") == b"close" or (b"content-length" not in headers and b"transfer-encoding" not in headers):
            await self.close()
            await self.connect()
        return status, headers, body


class HttpxClient:
    """The same interface over one shared httpx.AsyncClient."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def get(self, path: str) -> tuple[int, bytes]:
        response = await self.client.get(path)
        return response.status_code, response.content


@dataclass
class Measurement:
    label: str
    requests: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    response_bytes: int = 0
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0
    new_sessions: int = 0
    client_cpu: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def per_request_ms(self, seconds: float) -> float:
        return seconds * 1000 / self.requests if self.requests else float("nan")

    def line(self) -> str:
        text = (f"{self.label:<28} {self.rps:8.1f} req/s  p50 {self.quantile(0.5):6.1f} ms  "
                f"p95 {self.quantile(0.95):6.1f} ms  n={self.requests:<6}  "
                f"cpu/req: server {self.per_request_ms(self.server_cpu):5.2f} ms, "
                f"postgres {self.per_request_ms(self.postgres_cpu):5.2f} ms, "
                f"client {self.per_request_ms(self.client_cpu):4.2f} ms; new PG sessions {self.new_sessions}")
        if self.errors:
            text += f"  ERRORS {self.errors} (e.g. {self.error_samples[:1]})"
        return text


class Target:
    """A server under load: how to reach it and which paths to cycle over."""

    def __init__(self, server: Server, paths: list[str], headers: dict[str, str]) -> None:
        self.server, self.paths, self.headers = server, paths, headers


class Bench:
    def __init__(self, args: argparse.Namespace, database_name: str) -> None:
        self.args = args
        self.database_name = database_name
        self.admin: Any = None  # asyncpg connection to the admin database (CPU accounting)

    async def _postgres_pids(self) -> list[int]:
        rows = await self.admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database_name)
        return [row["pid"] for row in rows]

    async def _sessions(self) -> int:
        """Sessions ever opened on the bench database (PostgreSQL >= 14; counted when backends flush stats)."""
        with contextlib.suppress(Exception):
            return int(await self.admin.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = $1",
                                                 self.database_name) or 0)
        return 0

    async def _watch_backends(self, cpu: dict[int, list[float]], stop: asyncio.Event) -> None:
        """CPU of the bench database's backends, polled every 100 ms so that short-lived ones (a pool opening
        and closing connections) are mostly counted too: pid -> [CPU at first sight or 0 if new, last CPU]."""
        first = True
        while True:
            for pid in await self._postgres_pids():
                now = _proc_cpu(pid)
                if pid in cpu:
                    cpu[pid][1] = max(cpu[pid][1], now)
                else:
                    cpu[pid] = [now if first else 0.0, now]
            first = False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
                return

    async def measure(self, target: Target, label: str, *, warmup: float, duration: float,
                      on_measure_start: Callable[[], None] | None = None,
                      concurrency: int | None = None) -> Measurement:
        """Warm up, then load `target` for `duration` seconds with `concurrency` connections."""
        paths = target.paths
        concurrency = concurrency or self.args.concurrency
        httpx_client = None
        if self.args.client == "httpx":
            import httpx

            httpx_client = httpx.AsyncClient(
                base_url=f"http://{HOST}:{target.server.port}", headers=target.headers, timeout=30,
                limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency))
            clients: list[Any] = [HttpxClient(httpx_client) for _ in range(concurrency)]
        else:
            clients = [RawHttpClient(HOST, target.server.port, target.headers) for _ in range(concurrency)]
        try:
            for client in clients:
                await client.connect()
            counter = itertools.count()
            if warmup > 0:
                await self._drive(clients, paths, counter, warmup, Measurement("warm-up"))
            result = Measurement(label)
            backends: dict[int, list[float]] = {}
            stop = asyncio.Event()
            sessions_before = await self._sessions()
            watcher = asyncio.create_task(self._watch_backends(backends, stop))
            await asyncio.sleep(0)
            server_before = target.server.cpu_seconds()
            client_before = time.process_time()
            if on_measure_start is not None:
                on_measure_start()
            await self._drive(clients, paths, counter, duration, result)
            result.client_cpu = time.process_time() - client_before
            result.server_cpu = target.server.cpu_seconds() - server_before
            stop.set()
            await watcher
            result.postgres_cpu = sum(last - first for first, last in backends.values())
            result.new_sessions = await self._sessions() - sessions_before
            return result
        finally:
            for client in clients:
                await client.close()
            if httpx_client is not None:
                await httpx_client.aclose()

    async def _drive(self, clients: Sequence[Any], paths: list[str], counter: Any, duration: float,
                     result: Measurement) -> None:
        started = time.perf_counter()
        deadline = started + duration

        async def worker(client: Any) -> None:
            while time.perf_counter() < deadline:
                path = paths[next(counter) % len(paths)]
                sent = time.perf_counter()
                try:
                    status, body = await client.get(path)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    result.errors += 1
                    result.error_samples.append(repr(exc))
                    with contextlib.suppress(Exception):
                        await client.close()
                        await client.connect()
                    continue
                if status != 200:
                    result.errors += 1
                    result.error_samples.append(f"HTTP {status}: {body[:200]!r}")
                    continue
                result.latencies.append(time.perf_counter() - sent)
                result.requests += 1
                result.response_bytes += len(body)

        await asyncio.wait_for(asyncio.gather(*(worker(client) for client in clients)), duration + 60)
        result.elapsed = time.perf_counter() - started


# --------------------------------------------------------------------------------------------- the run


async def create_reader_key(database_url: str) -> str:
    from services.commitments.auth.service import create_key
    from shared.auth import SYSTEM, Role
    from shared.clock import SystemClock
    from shared.db import create_engine, create_sessionmaker

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            _, secret = await create_key(session, SYSTEM, SystemClock(), name="bench reader", role=Role.READER,
                                         partner_id=None)
    finally:
        await engine.dispose()
    return secret


class BenchError(Exception):
    """The run cannot give meaningful figures (a server failed, the two pages differ …)."""


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


async def check_same_pages(app: Server, baseline: Server, auth: dict[str, str], partner_ids: Sequence[uuid.UUID],
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
    return _mean([size[0] for size in sizes]), _mean([size[1] for size in sizes])


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


async def _run(args: argparse.Namespace) -> int:
    import asyncpg
    from sqlalchemy.engine import make_url

    from services.commitments.migrate import upgrade_database

    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, load average {_load()} "
          f"(1/5/15 min); PostgreSQL {make_url(ADMIN_URL).host}:{make_url(ADMIN_URL).port or 5432}; "
          f"load: {args.concurrency} connections, {args.client} client, warm-up {args.warmup:g} s + "
          f"{args.duration:g} s per measure, {args.rounds} round(s)", flush=True)
    name = f"eng_bench_{uuid.uuid4().hex[:10]}"
    database_url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    servers: list[Server] = []
    bench = Bench(args, name)
    status = 0
    await admin_execute(f'CREATE DATABASE "{name}"')
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
        auth = {"Authorization": f"Bearer {await create_reader_key(database_url)}"}
        bench.admin = await asyncpg.connect(plain_url(ADMIN_URL))

        baseline = Server("baseline", "baseline", "", database_url)
        app = Server("app", "app", "", database_url)
        servers += [baseline, app]
        for server in servers:
            server.start()
        for server in servers:
            await server.wait_ready()
        app_size, baseline_size = await check_same_pages(app, baseline, auth, dataset.partner_ids)
        print(f"payload check: both return the same first page, every field, for 20 partners; mean body "
              f"{app_size / 1024:.1f} KiB (app) vs {baseline_size / 1024:.1f} KiB (baseline)", flush=True)
        ceiling = await bench.measure(Target(baseline, ["/ping"], {}), "client ceiling (/ping)", warmup=0.5,
                                      duration=min(3.0, args.duration))
        print(f"load generator: {ceiling.rps:.0f} req/s on a trivial endpoint, "
              f"{ceiling.per_request_ms(ceiling.client_cpu):.2f} ms client CPU per request", flush=True)

        targets = {"baseline": Target(baseline, [f"/items?partner_id={p}" for p in dataset.partner_ids], {}),
                   "app": Target(app, [f"/v1/items?partner_id={p}" for p in dataset.partner_ids], auth)}
        results: dict[str, list[Measurement]] = {"baseline": [], "app": []}
        for round_number in range(1, args.rounds + 1):
            for label, target in targets.items():
                measurement = await bench.measure(target, f"round {round_number} {label}", warmup=args.warmup,
                                                  duration=args.duration)
                results[label].append(measurement)
                print(measurement.line(), flush=True)
        for server in servers:
            server.stop()
        servers.clear()

        ratio, met = summarize(results)
        if args.profile in ("always", "variants") or (args.profile == "auto" and not met):
            await profile(bench, database_url, dataset, auth, ratio)
    except BenchError as error:
        print(f"bench aborted: {error}", flush=True)
        status = 2
    finally:
        for server in servers:
            server.stop()
        if bench.admin is not None:
            await bench.admin.close()
        await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"database {name} dropped; load average {_load()}", flush=True)
    return status


def summarize(results: dict[str, list[Measurement]]) -> tuple[float, bool]:
    print()
    for label, title in (("baseline", "baseline (bare FastAPI + asyncpg)"), ("app", "app GET /v1/items?partner_id=")):
        runs = results[label]
        print(f"{title:<34} {_mean([m.rps for m in runs]):8.1f} req/s  p50 {_mean([m.quantile(0.5) for m in runs]):6.1f} ms"
              f"  p95 {_mean([m.quantile(0.95) for m in runs]):6.1f} ms  server CPU "
              f"{_mean([m.per_request_ms(m.server_cpu) for m in runs]):5.2f} ms/req  PostgreSQL CPU "
              f"{_mean([m.per_request_ms(m.postgres_cpu) for m in runs]):5.2f} ms/req")
    base_rps = _mean([m.rps for m in results["baseline"]])
    ratio = _mean([m.rps for m in results["app"]]) / base_rps if base_rps else float("nan")
    per_round = [app.rps / base.rps for base, app in zip(results["baseline"], results["app"], strict=True) if base.rps]
    errors = sum(m.errors for runs in results.values() for m in runs)
    met = ratio >= TARGET_RATIO and not errors
    print(f"ratio app/baseline: {ratio:.2f} (per round: {', '.join(f'{r:.2f}' for r in per_round)}); "
          f"target >= {TARGET_RATIO:.2f}")
    print(f"verdict: {'MET' if met else 'NOT MET'}: the app serves {ratio:.2f}x the baseline's requests/s"
          + (f"; {errors} request(s) failed" if errors else ""), flush=True)
    return ratio, met


async def probed_run(bench: Bench, server: Server, target_paths: list[str], headers: dict[str, str],
                     concurrency: int | None = None) -> tuple[Measurement, dict[str, Any]]:
    """Measure `server` (started here, with its probe) and collect the probe's report."""
    args = bench.args
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        report_file = Path(folder) / "probe.json"
        server.probe_to = str(report_file)
        server.start()
        try:
            await server.wait_ready()
            measurement = await bench.measure(Target(server, target_paths, headers), server.label,
                                              warmup=args.warmup, duration=args.duration, concurrency=concurrency,
                                              on_measure_start=lambda: server.signal(signal.SIGUSR1))
            server.signal(signal.SIGUSR2)
            for _ in range(200):
                with contextlib.suppress(OSError, ValueError):
                    return measurement, json.loads(report_file.read_text())
                await asyncio.sleep(0.05)
            raise BenchError(f"no probe report from {server.label}:\n{server.output()}")
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
            compiled = statement.compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]  # SQLAlchemy's dialects are not annotated
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


async def profile(bench: Bench, database_url: str, dataset: Dataset, auth: dict[str, str], ratio: float) -> None:
    args = bench.args
    variants = args.variants.split(",") if args.variants else list(DEFAULT_VARIANTS)
    if variants == ["none"]:
        variants = []
    if args.profile != "variants":
        await profile_steps(bench, database_url, dataset, auth, variants)
    await measure_variants(bench, database_url, dataset, auth, ratio, variants)


async def profile_steps(bench: Bench, database_url: str, dataset: Dataset, auth: dict[str, str],
                        variants: list[str]) -> None:
    args = bench.args
    app_paths = [f"/v1/items?partner_id={p}" for p in dataset.partner_ids]
    baseline_paths = [f"/items?partner_id={p}" for p in dataset.partner_ids]
    print("\n--- profile 0: the page's SQL in PostgreSQL (EXPLAIN ANALYZE, server-side time only) ---")
    await sql_check(database_url, dataset)
    print(f"\n--- profile 1: stack samples of the app's main thread, {args.concurrency} concurrent requests ---",
          flush=True)
    measurement, report = await probed_run(bench, Server("app, sampled", "app", "", database_url, probe="sampler"),
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
            bench, Server(label, "app", variant, database_url, probe="timings"), app_paths, auth, concurrency=1)
        print(f"{label}: {measurement.rps:.1f} req/s one at a time, server process CPU "
              f"{measurement.per_request_ms(measurement.server_cpu):.2f} ms/req, "
              f"new PG sessions {measurement.new_sessions}")
        print_stages(report)
    baseline_one = await bench_single(bench, Server("baseline", "baseline", "", database_url), baseline_paths)
    print(f"baseline: {baseline_one.rps:.1f} req/s one at a time, server process CPU "
          f"{baseline_one.per_request_ms(baseline_one.server_cpu):.2f} ms/req")


async def measure_variants(bench: Bench, database_url: str, dataset: Dataset, auth: dict[str, str], ratio: float,
                           variants: list[str]) -> None:
    args = bench.args
    app_paths = [f"/v1/items?partner_id={p}" for p in dataset.partner_ids]
    print(f"\n--- profile 3: variants of the app, built in the server subprocess (service code untouched), "
          f"{args.concurrency} concurrent requests; each measured in {args.pairs} pairs (app, variant) of "
          f"{args.duration / 2:g} s, back to back, so that the machine's drift cancels out ---", flush=True)
    baseline = Server("baseline", "baseline", "", database_url)
    app = Server("app", "app", "", database_url)
    rows: list[tuple[str, list[Measurement], list[Measurement]]] = []  # variant, its runs, the app's runs
    try:
        for server in (baseline, app):
            server.start()
        for server in (baseline, app):
            await server.wait_ready()
        app_target = Target(app, app_paths, auth)
        await bench.measure(app_target, "app warm-up", warmup=args.warmup, duration=0)
        for variant in variants:
            server = Server(variant, "app", variant, database_url)
            server.start()
            try:
                await server.wait_ready()
                await check_same_pages(server, baseline, auth, dataset.partner_ids, count=10)
                target = Target(server, app_paths, auth)
                await bench.measure(target, "warm-up", warmup=args.warmup, duration=0)
                runs: list[Measurement] = []
                app_runs: list[Measurement] = []
                for _ in range(args.pairs):
                    app_runs.append(await bench.measure(app_target, "app", warmup=0.5, duration=args.duration / 2))
                    runs.append(await bench.measure(target, variant, warmup=0.5, duration=args.duration / 2))
            finally:
                server.stop()
            rows.append((variant, runs, app_runs))
            gain = _mean([m.rps / a.rps for m, a in zip(runs, app_runs, strict=True)])
            print(f"{variant}: {_mean([m.rps for m in runs]):.1f} req/s vs app {_mean([m.rps for m in app_runs]):.1f}"
                  f" -> x{gain:.2f}; server CPU {_mean([m.per_request_ms(m.server_cpu) for m in runs]):.2f} vs "
                  f"{_mean([m.per_request_ms(m.server_cpu) for m in app_runs]):.2f} ms/req", flush=True)
    finally:
        for server in (baseline, app):
            server.stop()
    print(f"\n{'variant (x app: paired ratio of req/s; projected: x app times the ratio app/baseline above)':<96}"
          f"  {'x app':>5}  {'projected /baseline':>19}  {'CPU ms/req saved':>16}")
    for variant, runs, app_runs in rows:
        gain = _mean([m.rps / a.rps for m, a in zip(runs, app_runs, strict=True)])
        saved = _mean([a.per_request_ms(a.server_cpu) - m.per_request_ms(m.server_cpu)
                       for m, a in zip(runs, app_runs, strict=True)])
        print(f"{variant:<96}  {gain:5.2f}  {gain * ratio:19.2f}  {saved:16.2f}")


async def bench_single(bench: Bench, server: Server, paths: list[str]) -> Measurement:
    server.start()
    try:
        await server.wait_ready()
        return await bench.measure(Target(server, paths, {}), server.label, warmup=bench.args.warmup,
                                   duration=bench.args.duration, concurrency=1)
    finally:
        server.stop()


def print_stages(report: dict[str, Any]) -> None:
    requests = report["requests"] or 1
    print(f"  {'step':<66} {'calls/req':>9} {'CPU ms/req':>10} {'wall ms/req':>11}")
    for name, calls, cpu, wall in report["stages"]:
        print(f"  {name:<66} {calls / requests:9.2f} {1000 * cpu / requests:10.2f} {1000 * wall / requests:11.2f}")


def print_samples(report: dict[str, Any]) -> None:
    samples, busy = report["samples"] or 1, report["busy"] or 1
    print(f"{report['samples']} samples; busy (running Python) in {100 * busy / samples:.0f}% of them, the rest "
          f"is the event loop idle or in C under it (uvloop, httptools, asyncpg's protocol); "
          f"{100 * report['greenlet'] / busy:.0f}% of the busy samples are in SQLAlchemy's sync layer (greenlets)")
    print("busy time by component (innermost frame outside the standard library), % of busy:")
    for component, count in report["packages"]:
        if component != IDLE and count / busy >= 0.005:
            print(f"  {100 * count / busy:5.1f}%  {component}")
    print("hottest functions (self time), % of busy:")
    for label, count in [(label, count) for label, count in report["leaf"] if label != IDLE][:16]:
        print(f"  {100 * count / busy:5.1f}%  {label}")
    print("inclusive time of frames on the request path, % of busy:")
    wanted = ("services/", "shared/", "fastapi/routing.py:", "fastapi/dependencies/utils.py:solve_dependencies",
              "fastapi/_compat/", "opentelemetry/instrumentation/", "opentelemetry/sdk/trace/__init__.py:start_span",
              "sqlalchemy/orm/session.py:execute", "sqlalchemy/orm/session.py:commit", "sqlalchemy/orm/loading.py:instances",
              "sqlalchemy/sql/compiler.py:_process_parameters_for_postcompile", "sqlalchemy/pool/base.py:_checkout",
              "sqlalchemy/engine/default.py:_init_compiled", "sqlalchemy/dialects/postgresql/asyncpg.py:_prepare_and_execute",
              "sqlalchemy/dialects/postgresql/asyncpg.py:do_ping", "sqlalchemy/sql/elements.py:_compile_w_cache",
              "pydantic/main.py:__init__", "starlette/concurrency.py:run_in_threadpool")
    shown = 0
    for label, count in report["inclusive"]:
        if label != IDLE and label.startswith(wanted) and count / busy < 0.995 and count / busy >= 0.01:
            print(f"  {100 * count / busy:5.1f}%  {label}")
            shown += 1
            if shown >= 50:
                break


def run(args: argparse.Namespace) -> int:
    import logging

    # A handler on the root logger keeps Alembic from installing its own INFO logging (see migrations/env.py).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_run(args))
    return uvloop.run(_run(args))


def _serve_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.items_by_partner serve")
    parser.add_argument("--kind", choices=("app", "baseline"), required=True)
    parser.add_argument("--variant", default="")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--probe", choices=("sampler", "timings"))
    parser.add_argument("--probe-to")
    options = parser.parse_args(argv)
    serve(options.kind, options.variant, options.port, options.database_url, options.probe, options.probe_to)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve_main(sys.argv[2:])
    else:
        sys.exit("usage: python -m bench items_by_partner [options] (this module's own entry is internal)")
