"""Scenario `reporting_scorecard`: `GET /v1/reports/partners/{id}/scorecard` of the reporting service over a read
model of 100k items and 1M events on PostgreSQL, beside a bare FastAPI endpoint running the same SQL straight
through asyncpg.

    python -m bench reporting_scorecard [--scorecard-items N] [--scorecard-events N] [--scorecard-duration S] …

One run: create a uniquely named PostgreSQL database, migrate the reporting schema, fill it (data.py: INSERT …
SELECT generate_series), VACUUM ANALYZE; start the real app and the baseline under uvicorn, each in its own
subprocess (bench/machinery/servers.py; the servers in apps.py); check that both give the same figures for 20
partners; then load each in turn (baseline, app, baseline, app …) with keep-alive connections cycling over the
partners (bench/machinery/load.py), and print requests/s, latencies, CPU per request and the ratio app/baseline
against the target (≥ 0.7). The database is dropped at the end. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from bench.machinery import run_async
from bench.machinery.http_clients import RawHttpClient
from bench.machinery.load import LoadGenerator, Measurement, Target
from bench.machinery.postgres import plain_url, scratch_database
from bench.machinery.report import BenchError, load_average, mean
from bench.machinery.servers import HOST, ServerProcess, app_server
from bench.reporting_scorecard.apps import same_figures
from bench.reporting_scorecard.data import PERIOD, load

describe = (
    "GET /v1/reports/partners/{id}/scorecard (100k items, 1M events, PostgreSQL) vs the same SQL via asyncpg"
)

TARGET_RATIO = 0.7


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reporting_scorecard")
    group.add_argument(
        "--scorecard-items", type=int, default=100_000, help="items in the read model (100000)"
    )
    group.add_argument(
        "--scorecard-events", type=int, default=1_000_000, help="events it was built from (1000000)"
    )
    group.add_argument("--scorecard-partners", type=int, default=200, help="partners (200)")
    group.add_argument("--scorecard-concurrency", type=int, default=8, help="keep-alive connections (8)")
    group.add_argument(
        "--scorecard-warmup", type=float, default=2.0, help="seconds of warm-up per measure (2)"
    )
    group.add_argument(
        "--scorecard-duration", type=float, default=10.0, help="seconds measured per round (10)"
    )
    group.add_argument("--scorecard-rounds", type=int, default=2, help="rounds of baseline then app (2)")


async def _same_figures(app: ServerProcess, baseline: ServerProcess, partner_ids: list[str]) -> None:
    query = f"?from={PERIOD[0]}&to={PERIOD[1]}"
    app_client = RawHttpClient(HOST, app.port, {"Authorization": "Bearer bench"})
    baseline_client = RawHttpClient(HOST, baseline.port, {})
    await app_client.connect()
    await baseline_client.connect()
    try:
        for partner in partner_ids[:20]:
            app_status, app_body = await app_client.get(f"/v1/reports/partners/{partner}/scorecard{query}")
            baseline_status, baseline_body = await baseline_client.get(f"/scorecard/{partner}{query}")
            if (app_status, baseline_status) != (200, 200) or not same_figures(app_body, baseline_body):
                raise BenchError(
                    f"partner {partner}: the app ({app_status}) and the baseline ({baseline_status}) "
                    f"differ:\n{app_body[:600]!r}\n{baseline_body[:600]!r}"
                )
    finally:
        await app_client.close()
        await baseline_client.close()


async def _run(args: argparse.Namespace) -> int:
    import asyncpg

    from services.reporting.migrate import upgrade_database

    print(
        f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, load average {load_average()}; "
        f"{args.scorecard_items} items, {args.scorecard_events} events, {args.scorecard_partners} partners; "
        f"{args.scorecard_concurrency} connections, warm-up {args.scorecard_warmup:g} s + "
        f"{args.scorecard_duration:g} s per measure, {args.scorecard_rounds} round(s)",
        flush=True,
    )
    servers: list[ServerProcess] = []
    load_generator = LoadGenerator(args.scorecard_concurrency)
    status = 0
    async with scratch_database("eng_bench_reporting") as (name, database_url):
        try:
            started = time.perf_counter()
            await asyncio.to_thread(upgrade_database, database_url)
            connection = await asyncpg.connect(plain_url(database_url))
            try:
                partner_ids = await load(
                    connection, args.scorecard_items, args.scorecard_events, args.scorecard_partners
                )
            finally:
                await connection.close()
            print(
                f"database {name}: migrated, filled and vacuumed in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            await load_generator.watch_postgres(name)
            baseline = app_server(
                "baseline", "bench.reporting_scorecard.apps:baseline_app", database_url, ready_path="/ping"
            )
            app = app_server("app", "bench.reporting_scorecard.apps:real_app", database_url)
            servers += [baseline, app]
            for server in servers:
                server.start()
            for server in servers:
                await server.wait_ready()
            await _same_figures(app, baseline, partner_ids)
            print(
                "figures check: the app and the baseline give the same scorecard for 20 partners", flush=True
            )
            query = f"?from={PERIOD[0]}&to={PERIOD[1]}"
            targets = {
                "baseline": Target(baseline, [f"/scorecard/{p}{query}" for p in partner_ids], {}),
                "app": Target(
                    app,
                    [f"/v1/reports/partners/{p}/scorecard{query}" for p in partner_ids],
                    {"Authorization": "Bearer bench"},
                ),
            }
            results: dict[str, list[Measurement]] = {"baseline": [], "app": []}
            for round_number in range(1, args.scorecard_rounds + 1):
                for label, target in targets.items():
                    measurement = await load_generator.measure(
                        target,
                        f"round {round_number} {label}",
                        warmup=args.scorecard_warmup,
                        duration=args.scorecard_duration,
                    )
                    results[label].append(measurement)
                    print(measurement.line(), flush=True)
            baseline_rps = mean([m.rps for m in results["baseline"]])
            app_rps = mean([m.rps for m in results["app"]])
            ratio = app_rps / baseline_rps if baseline_rps else float("nan")
            verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
            print(
                f"\nmeans: baseline {baseline_rps:.1f} req/s, app {app_rps:.1f} req/s; ratio app/baseline "
                f"{ratio:.2f} ({verdict} the target ≥ {TARGET_RATIO}); per round: "
                + ", ".join(
                    f"{a.rps / b.rps:.2f}" for a, b in zip(results["app"], results["baseline"], strict=True)
                ),
                flush=True,
            )
        except BenchError as error:
            print(f"bench aborted: {error}", flush=True)
            status = 2
        finally:
            for server in servers:
                server.stop()
            await load_generator.close()
    print(f"database {name} dropped; load average {load_average()}", flush=True)
    return status


def run(args: argparse.Namespace) -> int:
    return run_async(_run, args)
