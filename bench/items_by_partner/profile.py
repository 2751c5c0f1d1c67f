"""The profiles of `items_by_partner` (`--profile`): the page's SQL explained, the app's stacks sampled under
load, the request's steps timed one request at a time, and the variants of the app measured in pairs."""

from __future__ import annotations

import argparse
import collections
import json
import uuid
from pathlib import Path
from typing import Any

from bench.items_by_partner.apps import (
    BASELINE_SQL,
    DEFAULT_VARIANTS,
    PAGE_SIZE,
    check_same_pages,
    items_server,
)
from bench.machinery.dataset import Dataset
from bench.machinery.load import LoadGenerator, Measurement, Target
from bench.machinery.postgres import plain_url
from bench.machinery.profiling import print_samples, print_stages
from bench.machinery.report import mean
from bench.machinery.servers import ServerProcess


async def probed_run(
    args: argparse.Namespace,
    load: LoadGenerator,
    server: ServerProcess,
    target_paths: list[str],
    headers: dict[str, str],
    concurrency: int | None = None,
) -> tuple[Measurement, dict[str, Any]]:
    """Measure `server` (started here, with its probe) and collect the probe's report."""
    server.start()
    try:
        await server.wait_ready()
        measurement = await load.measure(
            Target(server, target_paths, headers),
            server.label,
            warmup=args.warmup,
            duration=args.duration,
            concurrency=concurrency,
            on_measure_start=server.start_probe,
        )
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
                ItemFilters(partner_ids=frozenset({partner, *groups[partner]})),
                "created",
                False,
                None,
                PAGE_SIZE + 1,
                postgresql=True,
            )
            compiled = statement.compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]  # SQLAlchemy's dialects are not annotated
            values = compiled.construct_params(parameters)
            app_params = tuple(values[name] for name in compiled.positiontup or ())
            for name, sql, params in (
                ("app page statement", str(compiled), app_params),
                ("baseline statement", BASELINE_SQL, (partner, PAGE_SIZE + 1)),
            ):
                explain = await connection.prepare("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                for _ in range(6):
                    explained = json.loads(await explain.fetchval(*params))
                print(
                    f"  {label:<20} {name:<19} {explained[0]['Execution Time']:7.2f} ms  "
                    f"{_plan_outline(explained[0]['Plan'])}"
                )
    finally:
        await connection.close()


async def profile(
    args: argparse.Namespace,
    load: LoadGenerator,
    database_url: str,
    dataset: Dataset,
    auth: dict[str, str],
    ratio: float,
) -> None:
    variants = args.variants.split(",") if args.variants else list(DEFAULT_VARIANTS)
    if variants == ["none"]:
        variants = []
    if args.profile != "variants":
        await profile_steps(args, load, database_url, dataset, auth, variants)
    await measure_variants(args, load, database_url, dataset, auth, ratio, variants)


async def profile_steps(
    args: argparse.Namespace,
    load: LoadGenerator,
    database_url: str,
    dataset: Dataset,
    auth: dict[str, str],
    variants: list[str],
) -> None:
    app_paths = [f"/v1/items?partner_id={p}" for p in dataset.partner_ids]
    baseline_paths = [f"/items?partner_id={p}" for p in dataset.partner_ids]
    print("\n--- profile 0: the page's SQL in PostgreSQL (EXPLAIN ANALYZE, server-side time only) ---")
    await sql_check(database_url, dataset)
    print(
        f"\n--- profile 1: stack samples of the app's main thread, {args.concurrency} concurrent requests ---",
        flush=True,
    )
    measurement, report = await probed_run(
        args, load, items_server("app, sampled", "app", database_url, probe="sampler"), app_paths, auth
    )
    print(measurement.line())
    if args.profile_out:
        Path(args.profile_out).write_text("".join(f"{stack} {count}\n" for stack, count in report["folded"]))
        print(f"folded stacks written to {args.profile_out} (flamegraph.pl, speedscope)")
    print_samples(report)

    print(
        "\n--- profile 2: the request's steps, one request at a time (CPU of the server's main thread) ---",
        flush=True,
    )
    for label, variant in (("app", ""), *((v, v) for v in variants if "+" in v)):
        measurement, report = await probed_run(
            args,
            load,
            items_server(label, "app", database_url, variant, probe="timings"),
            app_paths,
            auth,
            concurrency=1,
        )
        print(
            f"{label}: {measurement.rps:.1f} req/s one at a time, server process CPU "
            f"{measurement.per_request_ms(measurement.server_cpu):.2f} ms/req, "
            f"new PG sessions {measurement.new_sessions}"
        )
        print_stages(report)
    baseline_one = await bench_single(
        args, load, items_server("baseline", "baseline", database_url), baseline_paths
    )
    print(
        f"baseline: {baseline_one.rps:.1f} req/s one at a time, server process CPU "
        f"{baseline_one.per_request_ms(baseline_one.server_cpu):.2f} ms/req"
    )


async def measure_variants(
    args: argparse.Namespace,
    load: LoadGenerator,
    database_url: str,
    dataset: Dataset,
    auth: dict[str, str],
    ratio: float,
    variants: list[str],
) -> None:
    app_paths = [f"/v1/items?partner_id={p}" for p in dataset.partner_ids]
    print(
        f"\n--- profile 3: variants of the app, built in the server subprocess (service code untouched), "
        f"{args.concurrency} concurrent requests; each measured in {args.pairs} pairs (app, variant) of "
        f"{args.duration / 2:g} s, back to back, so that the machine's drift cancels out ---",
        flush=True,
    )
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
                    app_runs.append(
                        await load.measure(app_target, "app", warmup=0.5, duration=args.duration / 2)
                    )
                    runs.append(await load.measure(target, variant, warmup=0.5, duration=args.duration / 2))
            finally:
                server.stop()
            rows.append((variant, runs, app_runs))
            gain = mean([m.rps / a.rps for m, a in zip(runs, app_runs, strict=True)])
            print(
                f"{variant}: {mean([m.rps for m in runs]):.1f} req/s vs app {mean([m.rps for m in app_runs]):.1f}"
                f" -> x{gain:.2f}; server CPU {mean([m.per_request_ms(m.server_cpu) for m in runs]):.2f} vs "
                f"{mean([m.per_request_ms(m.server_cpu) for m in app_runs]):.2f} ms/req",
                flush=True,
            )
    finally:
        for server in (baseline, app):
            server.stop()
    print(
        f"\n{'variant (x app: paired ratio of req/s; projected: x app times the ratio app/baseline above)':<96}"
        f"  {'x app':>5}  {'projected /baseline':>19}  {'CPU ms/req saved':>16}"
    )
    for variant, runs, app_runs in rows:
        gain = mean([m.rps / a.rps for m, a in zip(runs, app_runs, strict=True)])
        saved = mean(
            [
                a.per_request_ms(a.server_cpu) - m.per_request_ms(m.server_cpu)
                for m, a in zip(runs, app_runs, strict=True)
            ]
        )
        print(f"{variant:<96}  {gain:5.2f}  {gain * ratio:19.2f}  {saved:16.2f}")


async def bench_single(
    args: argparse.Namespace, load: LoadGenerator, server: ServerProcess, paths: list[str]
) -> Measurement:
    server.start()
    try:
        await server.wait_ready()
        return await load.measure(
            Target(server, paths, {}), server.label, warmup=args.warmup, duration=args.duration, concurrency=1
        )
    finally:
        server.stop()
