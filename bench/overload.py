"""Scenario `overload`: one commitments API process on PostgreSQL under 500 concurrent connections, beside the
same process under 16.

    python -m bench overload [--overload-connections 500] [--overload-duration S] [--overload-rounds R] …

One run: create a uniquely named PostgreSQL database, migrate it, load the data set of `items_by_partner`
(COPY; 20,000 items by default), create a `city` key; start the API as deployed (`python -m services.commitments
serve`, uvicorn, relay out of process) on a free loopback port; then, in each round, load it with 16 keep-alive
connections (the unloaded baseline), then with 500. Each connection sends, one after the other, a mix of
`GET /v1/items?partner_id=…` (first page of 50), `GET /v1/items/{id}` and a few writes (`POST
/v1/items/{id}/journal`, a note), and waits `Retry-After` after a 503, as a client should. It prints, for each
level: the share of 503s and of other 5xx (and transport errors), p50/p99 of the served requests (2xx) and of
the 503s, CPU of the server process; then the ratio served p99 (500) / served p99 (16) against the target: 0 other
5xx, ratio ≤ 3. When the ratio misses it (or with `--overload-profile always`) it samples the server's stacks
under the 500 connections. The database is dropped at the end. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench.machinery import run_async
from bench.machinery.dataset import create_key, load_dataset
from bench.machinery.http_clients import RawHttpClient
from bench.machinery.postgres import plain_url, scratch_database
from bench.machinery.profiling import print_samples
from bench.machinery.report import BenchError, load_average
from bench.machinery.servers import HOST, NATS_URL, ServerProcess, app_server

describe = (
    "one API process on PostgreSQL at 500 connections beside 16: share of 503s and other 5xx, served p99 "
    "(500) / served p99 (16)"
)

TARGET_RATIO = 3.0
WRITE_SHARE = 0.1
LIST_SHARE = 0.4  # the rest reads one item
REQUEST_TIMEOUT_SECONDS = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("overload")
    group.add_argument("--overload-items", type=int, default=20_000, help="items to load (default 20000)")
    group.add_argument(
        "--overload-connections", type=int, default=500, help="connections of the overload (500)"
    )
    group.add_argument("--overload-baseline", type=int, default=16, help="connections of the baseline (16)")
    group.add_argument(
        "--overload-warmup", type=float, default=3.0, help="seconds of warm-up per measure (3)"
    )
    group.add_argument(
        "--overload-duration", type=float, default=15.0, help="seconds measured per level (15)"
    )
    group.add_argument(
        "--overload-rounds", type=int, default=2, help="rounds, each 16 then 500 connections (2)"
    )
    group.add_argument(
        "--overload-impatient",
        action="store_true",
        help="clients ignore Retry-After and send again at once (a harsher, rude load)",
    )
    group.add_argument(
        "--overload-profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="sample the server's stacks under the overload: when the ratio misses (auto), always, or never",
    )


@dataclass
class Level:
    label: str
    connections: int
    served: list[float] = field(default_factory=list)  # latencies (s) of 2xx answers
    refused: list[float] = field(default_factory=list)  # latencies of 503 answers
    other_5xx: int = 0
    other_status: int = 0  # 4xx and the like: the mix should give none
    errors: int = 0  # transport errors, timeouts
    samples: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    admission: dict[str, Any] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return len(self.served) + len(self.refused) + self.other_5xx + self.other_status

    def share(self, count: int) -> float:
        total = self.answered + self.errors
        return 100 * count / total if total else float("nan")

    def add(self, other: Level) -> None:
        self.served += other.served
        self.refused += other.refused
        self.other_5xx += other.other_5xx
        self.other_status += other.other_status
        self.errors += other.errors
        self.samples += other.samples[:3]
        self.elapsed += other.elapsed
        self.server_cpu += other.server_cpu
        self.client_cpu += other.client_cpu


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def describe_level(level: Level) -> str:
    rate = len(level.served) / level.elapsed if level.elapsed else float("nan")
    text = (
        f"{level.label:<26} served {len(level.served):6} ({rate:6.1f}/s)  p50 {quantile(level.served, 0.5):7.1f} ms"
        f"  p95 {quantile(level.served, 0.95):7.1f}  p99 {quantile(level.served, 0.99):7.1f} ms | 503 {level.share(len(level.refused)):5.1f}% "
        f"(p50 {quantile(level.refused, 0.5):5.1f} / p99 {quantile(level.refused, 0.99):6.1f} ms) | other 5xx "
        f"{level.other_5xx} ({level.share(level.other_5xx):.2f}%) | other status {level.other_status} | "
        f"errors {level.errors} | CPU: server {100 * level.server_cpu / level.elapsed if level.elapsed else 0:3.0f}%,"
        f" client {100 * level.client_cpu / level.elapsed if level.elapsed else 0:3.0f}%"
    )
    if level.samples:
        text += f"\n{'':<26} e.g. {level.samples[:2]}"
    return text


class Mix:
    """The requests of the load: list a partner's items, read an item, add a note to an item."""

    def __init__(self, partner_ids: list[uuid.UUID], item_ids: list[uuid.UUID], seed: int = 7) -> None:
        self.partner_ids, self.item_ids = partner_ids, item_ids
        self.rng = random.Random(seed)

    def next(self) -> tuple[str, str, bytes | None]:
        draw = self.rng.random()
        if draw < WRITE_SHARE:
            body = json.dumps({"kind": "note", "text": "Point d'étape avec le partenaire."}).encode()
            return "POST", f"/v1/items/{self.rng.choice(self.item_ids)}/journal", body
        if draw < WRITE_SHARE + LIST_SHARE:
            return "GET", f"/v1/items?partner_id={self.rng.choice(self.partner_ids)}", None
        return "GET", f"/v1/items/{self.rng.choice(self.item_ids)}", None


def api_process(database_url: str) -> ServerProcess:
    """`python -m services.commitments serve` on a free port, as deployed (uvicorn with uvloop and httptools,
    JSON logs at INFO), the relay out of process; not started yet."""
    suffix = uuid.uuid4().hex[:8]
    return ServerProcess(
        "the API",
        ["-m", "services.commitments", "serve", "--host", HOST],
        env={
            "DATABASE_URL": database_url,
            "NATS_URL": NATS_URL,
            "RELAY_IN_PROCESS": "false",
            "EVENTS_STREAM": f"BENCH_OVERLOAD_{suffix}",
            "EVENTS_SUBJECT_PREFIX": f"bench{suffix}",
        },
    )


async def readiness(port: int) -> dict[str, Any]:
    client = RawHttpClient(HOST, port, {})
    await client.connect()
    try:
        _, body = await client.get("/readyz")
    finally:
        await client.close()
    return json.loads(body)  # type: ignore[no-any-return]  # /readyz answers a JSON object


async def drive(
    port: int,
    auth: dict[str, str],
    mix: Mix,
    connections: int,
    warmup: float,
    duration: float,
    label: str,
    patient: bool,
    cpu_of: Any,
) -> Level:
    """Open `connections` keep-alive connections, load them for `warmup` then `duration` seconds, and return
    what was answered in the measured part."""
    clients = [RawHttpClient(HOST, port, auth) for _ in range(connections)]
    await asyncio.gather(*(client.connect() for client in clients))
    level = Level(label, connections)
    started = time.perf_counter()
    measure_from = started + warmup
    deadline = measure_from + duration
    admission_before = (await readiness(port)).get("info", {}).get("admission", {})

    async def connection(client: RawHttpClient) -> None:
        # Connections start spread over a tenth of a second, not all in the same instant.
        await asyncio.sleep(random.random() * 0.1)
        while (sent := time.perf_counter()) < deadline:
            method, path, body = mix.next()
            measured = sent >= measure_from
            try:
                status, headers, answer = await asyncio.wait_for(
                    client.request(method, path, body), REQUEST_TIMEOUT_SECONDS
                )
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
                if measured:
                    level.errors += 1
                    level.samples.append(repr(exc))
                with contextlib.suppress(Exception):
                    await client.close()
                    await client.connect()
                continue
            latency = time.perf_counter() - sent
            if measured:
                if 200 <= status < 300:
                    level.served.append(latency)
                elif status == 503:
                    level.refused.append(latency)
                elif status >= 500:
                    level.other_5xx += 1
                    level.samples.append(f"HTTP {status}: {answer[:200]!r}")
                else:
                    level.other_status += 1
                    level.samples.append(f"HTTP {status}: {answer[:200]!r}")
            if status == 503 and patient:
                retry_after = headers.get(b"retry-after", b"1")
                await asyncio.sleep(float(retry_after) if retry_after.isdigit() else 1.0)

    async def measure_cpu() -> None:
        await asyncio.sleep(max(measure_from - time.perf_counter(), 0))
        server_before, client_before = cpu_of(), time.process_time()
        await asyncio.sleep(max(deadline - time.perf_counter(), 0))
        level.server_cpu, level.client_cpu = cpu_of() - server_before, time.process_time() - client_before

    try:
        await asyncio.gather(measure_cpu(), *(connection(client) for client in clients))
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    level.elapsed = duration
    admission_after = (await readiness(port)).get("info", {}).get("admission", {})
    level.admission = {
        key: admission_after.get(key, 0) - admission_before.get(key, 0)
        for key in ("refused", "pool_timeouts", "abandoned")
    }
    return level


async def profile_overload(
    args: argparse.Namespace, database_url: str, auth: dict[str, str], mix: Mix
) -> None:
    """Stack samples of the server's main thread under the overload (the benches' app server with its
    sampler, bench/machinery/servers.py: the same app and uvicorn, without the access log)."""
    server = app_server(
        "app (sampled)", "bench.machinery.servers:commitments_app", database_url, probe="sampler"
    )
    server.start()
    try:
        await server.wait_ready()
        print(
            f"\nprofile: {args.overload_connections} connections against the app with a stack sampler "
            f"({args.overload_duration:g} s)",
            flush=True,
        )
        measure = asyncio.create_task(
            drive(
                server.port,
                auth,
                mix,
                args.overload_connections,
                args.overload_warmup,
                args.overload_duration,
                "sampled",
                not args.overload_impatient,
                server.cpu_seconds,
            )
        )
        await asyncio.sleep(args.overload_warmup)
        server.start_probe()
        level = await measure
        report = await server.probe_report()
        print(describe_level(level), flush=True)
        print_samples(report)
    finally:
        server.stop()


async def _run(args: argparse.Namespace) -> int:
    import asyncpg

    from services.commitments.migrate import upgrade_database

    patient = not args.overload_impatient
    print(
        f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, load average {load_average()}; "
        f"levels: {args.overload_baseline} then {args.overload_connections} connections, "
        f"{args.overload_warmup:g} s warm-up + {args.overload_duration:g} s each, {args.overload_rounds} round(s); "
        f"clients {'wait Retry-After after a 503' if patient else 'ignore Retry-After'}",
        flush=True,
    )
    status = 0
    async with scratch_database() as (name, database_url):
        api = api_process(database_url)
        try:
            await asyncio.to_thread(upgrade_database, database_url)
            connection = await asyncpg.connect(plain_url(database_url))
            try:
                dataset = await load_dataset(connection, args.overload_items, 200, 42)
                item_ids = [
                    row["id"]
                    for row in await connection.fetch(
                        "SELECT id FROM items ORDER BY md5(id::text) LIMIT 5000"
                    )
                ]
            finally:
                await connection.close()
            print(
                f"database {name}: " + ", ".join(f"{n} {table}" for table, n in dataset.counts.items()),
                flush=True,
            )
            auth = {"Authorization": f"Bearer {await create_key(database_url, 'city', 'bench city')}"}
            mix = Mix(dataset.partner_ids, item_ids)
            api.start()
            await api.wait_ready()
            settings = (await readiness(api.port)).get("info", {}).get("admission", {})
            print(f"API: pid {api.process.pid if api.process else '?'}, admission {settings}", flush=True)

            totals = {
                "baseline": Level("all rounds", args.overload_baseline),
                "overload": Level("all rounds", args.overload_connections),
            }
            ratios = []
            for round_number in range(1, args.overload_rounds + 1):
                measured = {}
                for key, connections in (
                    ("baseline", args.overload_baseline),
                    ("overload", args.overload_connections),
                ):
                    level = await drive(
                        api.port,
                        auth,
                        mix,
                        connections,
                        args.overload_warmup,
                        args.overload_duration,
                        f"round {round_number}: {connections:>3} conn.",
                        patient,
                        api.cpu_seconds,
                    )
                    print(describe_level(level), flush=True)
                    print(f"{'':<26} admission path: {level.admission}", flush=True)
                    totals[key].add(level)
                    measured[key] = level
                ratios.append(
                    quantile(measured["overload"].served, 0.99) / quantile(measured["baseline"].served, 0.99)
                )
            pool_timeouts_logged = api.log_lines("no database connection within the pool timeout")
            api.stop()

            baseline, overload = totals["baseline"], totals["overload"]
            ratio = quantile(overload.served, 0.99) / quantile(baseline.served, 0.99)
            print()
            print(f"{args.overload_baseline} connections, " + describe_level(baseline))
            print(f"{args.overload_connections} connections, " + describe_level(overload))
            other = baseline.other_5xx + overload.other_5xx
            met = other == 0 and ratio <= TARGET_RATIO
            within_a_second = sum(1 for latency in overload.refused if latency < 1.0)
            print(
                f"503s at {args.overload_connections} connections: {overload.share(len(overload.refused)):.1f}% "
                f"(p99 {quantile(overload.refused, 0.99):.1f} ms, max {1000 * max(overload.refused, default=0):.0f} ms; "
                f"{100 * within_a_second / len(overload.refused) if overload.refused else float('nan'):.2f}% within a "
                f"second); other 5xx: {other}; transport errors: {baseline.errors + overload.errors}; pool timeouts "
                f"logged by the server: {pool_timeouts_logged}"
            )
            print(
                f"served p99 ({args.overload_connections}) / served p99 ({args.overload_baseline}) = {ratio:.2f} "
                f"(per round {', '.join(f'{value:.2f}' for value in ratios)}); target: 0 other 5xx and ratio <= "
                f"{TARGET_RATIO:g}: {'MET' if met else 'MISSED'}",
                flush=True,
            )
            if args.overload_profile == "always" or (args.overload_profile == "auto" and not met):
                await profile_overload(args, database_url, auth, mix)
        except BenchError as error:
            print(f"bench aborted: {error}", flush=True)
            status = 2
        finally:
            api.stop()
    print(f"database {name} dropped; load average {load_average()}", flush=True)
    return status


def run(args: argparse.Namespace) -> int:
    return run_async(_run, args)
