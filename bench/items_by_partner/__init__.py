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

The servers are in apps.py, the profiles in profile.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from bench.items_by_partner.apps import DEFAULT_VARIANTS, VARIANTS, check_same_pages, items_server
from bench.items_by_partner.profile import profile
from bench.machinery import run_async
from bench.machinery.dataset import create_key, load_dataset
from bench.machinery.load import LoadGenerator, Measurement, Target
from bench.machinery.postgres import ADMIN_URL, plain_url, scratch_database
from bench.machinery.report import BenchError, load_average, mean
from bench.machinery.servers import ServerProcess

describe = "GET /v1/items?partner_id=… (first page of 50, 100k items, PostgreSQL) vs bare FastAPI + asyncpg"

TARGET_RATIO = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("items_by_partner")
    group.add_argument("--items", type=int, default=100_000, help="items to load (default 100000)")
    group.add_argument("--partners", type=int, default=200, help="partners, groups included (default 200)")
    group.add_argument("--concurrency", type=int, default=16, help="concurrent keep-alive connections (16)")
    group.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each measure (2)")
    group.add_argument("--duration", type=float, default=10.0, help="seconds measured per round (10)")
    group.add_argument("--rounds", type=int, default=2, help="rounds; each measures baseline then app (2)")
    group.add_argument(
        "--profile",
        choices=("auto", "always", "never", "variants"),
        default="auto",
        help="profile the app when the ratio misses the target (auto), always, never, or only "
        "measure the variants (variants)",
    )
    group.add_argument(
        "--variants",
        default=None,
        help="comma-separated app variants measured when profiling, each a '+'-joined set of "
        f"changes ('none' to skip); known changes: {', '.join(VARIANTS)}; default: "
        + ", ".join(DEFAULT_VARIANTS),
    )
    group.add_argument(
        "--pairs", type=int, default=2, help="back-to-back (app, variant) pairs per variant (2)"
    )
    group.add_argument(
        "--profile-out",
        metavar="FILE",
        help="also write the app's sampled stacks there, folded (flamegraph.pl, speedscope)",
    )
    group.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: minimal HTTP/1.1 keep-alive client (raw, default) or httpx",
    )
    group.add_argument("--seed", type=int, default=42, help="data set seed (42)")


async def _run(args: argparse.Namespace) -> int:
    import asyncpg
    from sqlalchemy.engine import make_url

    from services.commitments.migrate import upgrade_database

    print(
        f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, load average {load_average()} "
        f"(1/5/15 min); PostgreSQL {make_url(ADMIN_URL).host}:{make_url(ADMIN_URL).port or 5432}; "
        f"load: {args.concurrency} connections, {args.client} client, warm-up {args.warmup:g} s + "
        f"{args.duration:g} s per measure, {args.rounds} round(s)",
        flush=True,
    )
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
            print(
                f"database {name}: migrated in {migrated - started:.1f} s; loaded (COPY) and vacuumed in "
                f"{loaded - migrated:.1f} s: "
                + ", ".join(f"{n} {table}" for table, n in dataset.counts.items()),
                flush=True,
            )
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
            print(
                f"payload check: both return the same first page, every field, for 20 partners; mean body "
                f"{app_size / 1024:.1f} KiB (app) vs {baseline_size / 1024:.1f} KiB (baseline)",
                flush=True,
            )
            ceiling = await load.measure(
                Target(baseline, ["/ping"], {}),
                "client ceiling (/ping)",
                warmup=0.5,
                duration=min(3.0, args.duration),
            )
            print(
                f"load generator: {ceiling.rps:.0f} req/s on a trivial endpoint, "
                f"{ceiling.per_request_ms(ceiling.client_cpu):.2f} ms client CPU per request",
                flush=True,
            )

            targets = {
                "baseline": Target(baseline, [f"/items?partner_id={p}" for p in dataset.partner_ids], {}),
                "app": Target(app, [f"/v1/items?partner_id={p}" for p in dataset.partner_ids], auth),
            }
            results: dict[str, list[Measurement]] = {"baseline": [], "app": []}
            for round_number in range(1, args.rounds + 1):
                for label, target in targets.items():
                    measurement = await load.measure(
                        target, f"round {round_number} {label}", warmup=args.warmup, duration=args.duration
                    )
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
    for label, title in (
        ("baseline", "baseline (bare FastAPI + asyncpg)"),
        ("app", "app GET /v1/items?partner_id="),
    ):
        runs = results[label]
        print(
            f"{title:<34} {mean([m.rps for m in runs]):8.1f} req/s  p50 {mean([m.quantile(0.5) for m in runs]):6.1f} ms"
            f"  p95 {mean([m.quantile(0.95) for m in runs]):6.1f} ms  server CPU "
            f"{mean([m.per_request_ms(m.server_cpu) for m in runs]):5.2f} ms/req  PostgreSQL CPU "
            f"{mean([m.per_request_ms(m.postgres_cpu) for m in runs]):5.2f} ms/req"
        )
    base_rps = mean([m.rps for m in results["baseline"]])
    ratio = mean([m.rps for m in results["app"]]) / base_rps if base_rps else float("nan")
    per_round = [
        app.rps / base.rps for base, app in zip(results["baseline"], results["app"], strict=True) if base.rps
    ]
    errors = sum(m.errors for runs in results.values() for m in runs)
    met = ratio >= TARGET_RATIO and not errors
    print(
        f"ratio app/baseline: {ratio:.2f} (per round: {', '.join(f'{r:.2f}' for r in per_round)}); "
        f"target >= {TARGET_RATIO:.2f}"
    )
    print(
        f"verdict: {'MET' if met else 'NOT MET'}: the app serves {ratio:.2f}x the baseline's requests/s"
        + (f"; {errors} request(s) failed" if errors else ""),
        flush=True,
    )
    return ratio, met


def run(args: argparse.Namespace) -> int:
    return run_async(_run, args)
