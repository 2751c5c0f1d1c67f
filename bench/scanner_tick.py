"""Scenario `scanner_tick`: one deadline-scanner tick that sends 10,000 due reminders, over 1,000,000 deadlines,
beside the same tick over 100,000 deadlines with the same 10,000 due.

    python -m bench scanner_tick [--scan-large N] [--scan-small N] [--scan-due N] [--scan-rounds R] …

One run: create two uniquely named PostgreSQL databases, migrate them, bulk-load each with INSERT … SELECT
generate_series (never through the API), VACUUM ANALYZE; then, round after round and alternating small and
large, time `DeadlineScanner.tick()` (the service's own code, as `python -m services.commitments scan --once`
runs it), check it sent exactly the due reminders, and put the due rows back (an untimed warm-up round first). Prints each time, the medians and
the ratio large/small against the target (≤ 1.3). The databases are dropped at the end, even on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.machinery.postgres import ADMIN_URL, admin_execute

describe = "one scanner tick sending 10k due reminders over 1M deadlines vs over 100k (PostgreSQL)"

TARGET_RATIO = 1.3
# "As of" Tuesday 10 March 2026, 10:00 in Paris: the due deadlines are due on Wednesday 11 March, so their D-1
# reminder (deadline.approaching) fired at 08:30 in Paris today. Every other schedule is later or disarmed.
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
DUE_ON = "2026-03-11"
DUE_FIRE_AT = datetime(2026, 3, 10, 7, 30, tzinfo=UTC)
ARMED_AT = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scanner_tick")
    group.add_argument("--scan-large", type=int, default=1_000_000, help="deadlines in the large database (1000000)")
    group.add_argument("--scan-small", type=int, default=100_000, help="deadlines in the small database (100000)")
    group.add_argument("--scan-due", type=int, default=10_000, help="reminders due at the tick, in both (10000)")
    group.add_argument("--scan-rounds", type=int, default=3, help="timed ticks per database, alternated (3)")
    group.add_argument("--scan-batch", type=int, default=500, help="scanner batch size (500, the default)")


def _uuid_sql(prefix: str, number: str) -> str:
    """A deterministic uuid from a series number: '<prefix>…-<12 hex digits of the number>'."""
    return f"('{prefix}-0000-4000-8000-' || lpad(to_hex({number}), 12, '0'))::uuid"


# Plans, partners, items (requests, accepted: their delivery deadlines are reminded), one lead partner and one
# delivery deadline per item, one reminder schedule per deadline. The first `due` schedules are due now (D-1 at
# 08:30 today); of the others, a third are disarmed (met, closed or exhausted) and the rest fire later.
LOAD = [
    """INSERT INTO plans (id, title, commune, created_at) VALUES ('00000000-0000-4000-8000-000000000001',
       'Plan d''action — banc d''essai', 'Sceaux', now())""",
    """INSERT INTO axes (id, plan_id, number, title, position) VALUES ('00000000-0000-4000-8000-000000000002',
       '00000000-0000-4000-8000-000000000001', 'I', 'BIEN VIVRE', 1)""",
    """INSERT INTO objectives (id, plan_id, axis_id, letter, title, context, position) VALUES
       ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000001',
        '00000000-0000-4000-8000-000000000002', 'A', 'CADRE DE VIE', '', 1)""",
    f"""INSERT INTO partners (id, name, kind, is_group, created_at, updated_at)
        SELECT {_uuid_sql('22222222', 'g')}, 'Partenaire ' || g, 'bailleur_social', false, now(), now()
        FROM generate_series(1, 200) g""",
    f"""INSERT INTO items (id, plan_id, axis_id, objective_id, position, kind, title, plan_text, status,
                           needs_review, version, created_at, updated_at)
        SELECT {_uuid_sql('11111111', 'g')}, '00000000-0000-4000-8000-000000000001',
               '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003', g, 'request',
               'Demande ' || g, 'La Ville demande au partenaire d''agir.', 'accepted', false, 1, now(), now()
        FROM generate_series(1, :n) g""",
    f"""INSERT INTO item_partners (item_id, partner_id, role)
        SELECT {_uuid_sql('11111111', 'g')}, {_uuid_sql('22222222', '1 + g % 200')}, 'lead'
        FROM generate_series(1, :n) g""",
    f"""INSERT INTO deadlines (id, item_id, kind, due_on, version, created_at, updated_at)
        SELECT {_uuid_sql('33333333', 'g')}, {_uuid_sql('11111111', 'g')}, 'delivery',
               CASE WHEN g <= :due THEN DATE '{DUE_ON}' ELSE DATE '2026-04-01' + (g % 700) END, 1, now(), now()
        FROM generate_series(1, :n) g""",
    f"""INSERT INTO reminder_schedules (deadline_id, item_id, deadline_version, arming, anchor_on, armed_at,
                                       handled_until, escalation, next_fire_at)
        SELECT {_uuid_sql('33333333', 'g')}, {_uuid_sql('11111111', 'g')}, 1, 0, NULL, :armed, :armed, 'none',
               CASE WHEN g <= :due THEN CAST(:due_fire_at AS timestamptz)
                    WHEN g % 3 = 0 THEN NULL
                    ELSE CAST(:now AS timestamptz) + interval '1 hour' * (1 + g % 5000) END
        FROM generate_series(1, :n) g""",
]

RESET = [
    "DELETE FROM reminder_firings",
    "DELETE FROM outbox",
    f"""UPDATE reminder_schedules SET handled_until = :armed, next_fire_at = :due_fire_at, escalation = 'none'
        WHERE deadline_id IN (SELECT {_uuid_sql('33333333', 'g')} FROM generate_series(1, :due) g)""",
]


async def _execute(engine: Any, statements: list[str], params: dict[str, Any]) -> None:
    from sqlalchemy import text

    async with engine.begin() as connection:
        for statement in statements:
            names = {name for name in params if f":{name}" in statement}
            await connection.execute(text(statement), {name: params[name] for name in names})


async def _vacuum(engine: Any) -> None:
    from sqlalchemy import text

    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))


async def _count(engine: Any, statement: str) -> int:
    from sqlalchemy import text

    async with engine.connect() as connection:
        return int((await connection.execute(text(statement))).scalar_one())


async def _tick(engine: Any, batch_size: int) -> tuple[float, Any]:
    from services.commitments.database import outbox_aware_sessionmaker
    from services.commitments.reminders.scanner import DeadlineScanner
    from shared.clock import FixedClock

    scanner = DeadlineScanner(outbox_aware_sessionmaker(engine, lambda: None), FixedClock(NOW), batch_size=batch_size)
    started = time.perf_counter()
    result = await scanner.tick()
    return time.perf_counter() - started, result


async def _explain(engine: Any, batch_size: int) -> str:
    from sqlalchemy import text

    async with engine.connect() as connection:
        rows = (await connection.execute(text(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM reminder_schedules WHERE next_fire_at <= :now "
            "ORDER BY next_fire_at LIMIT :limit FOR UPDATE SKIP LOCKED"), {"now": NOW, "limit": batch_size})).all()
        await connection.rollback()
    return "\n".join("      " + row[0] for row in rows)


async def _run(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from services.commitments.migrate import upgrade_database
    from shared.db import create_engine

    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; PostgreSQL {make_url(ADMIN_URL).host}", flush=True)
    run_id = uuid.uuid4().hex[:8]
    sizes = {"small": args.scan_small, "large": args.scan_large}
    names = {label: f"eng_bench_scan_{run_id}_{label}" for label in sizes}
    engines: dict[str, Any] = {}
    status = 0
    try:
        for label, size in sizes.items():
            await admin_execute(f'CREATE DATABASE "{names[label]}"')
            url = make_url(ADMIN_URL).set(database=names[label]).render_as_string(hide_password=False)
            await asyncio.to_thread(upgrade_database, url)
            engines[label] = create_engine(url, pool_size=5)
            started = time.perf_counter()
            params = {"n": size, "due": args.scan_due, "armed": ARMED_AT, "now": NOW, "due_fire_at": DUE_FIRE_AT}
            await _execute(engines[label], LOAD, params)
            await _vacuum(engines[label])
            armed = await _count(engines[label], "SELECT count(*) FROM reminder_schedules WHERE next_fire_at IS NOT NULL")
            print(f"{label}: {size:,} deadlines ({armed:,} armed schedules, {args.scan_due:,} due) loaded in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
        times: dict[str, list[float]] = {label: [] for label in sizes}
        # Round 0 is a warm-up (imports, statement caches, the calendar's holiday tables), not counted.
        for round_number in range(args.scan_rounds + 1):
            for label in sizes:
                engine = engines[label]
                elapsed, result = await _tick(engine, args.scan_batch)
                if result.fired != args.scan_due:
                    print(f"{label}: the tick sent {result.fired} reminders, expected {args.scan_due}", flush=True)
                    status = 2
                if round_number:
                    times[label].append(elapsed)
                print(f"round {round_number or 'warm-up'} {label:5}: tick {elapsed:6.2f} s — {result.fired:,} sent in "
                      f"{result.batches} batches ({result.fired / elapsed:,.0f} reminders/s)", flush=True)
                await _execute(engine, RESET, {"due": args.scan_due, "armed": ARMED_AT, "due_fire_at": DUE_FIRE_AT})
                await _vacuum(engine)
        small, large = statistics.median(times["small"]), statistics.median(times["large"])
        ratio = large / small
        print(f"median tick: {sizes['small']:,} deadlines {small:.2f} s, {sizes['large']:,} deadlines {large:.2f} s")
        print(f"ratio large/small = {ratio:.2f} (target ≤ {TARGET_RATIO}): {'MET' if ratio <= TARGET_RATIO else 'NOT MET'}")
        for label in sizes:
            print(f"  claim query on {label} (EXPLAIN ANALYZE, due rows present):")
            print(await _explain(engines[label], args.scan_batch))
    finally:
        for engine in engines.values():
            await engine.dispose()
        for name in names.values():
            await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print("databases dropped", flush=True)
    return status


def run(args: argparse.Namespace) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(_run(args))
