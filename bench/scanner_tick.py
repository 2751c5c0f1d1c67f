"""Scenario `scanner_tick`: one deadline-scanner tick that sends 10,000 due reminders, over 1,000,000 deadlines,
beside the same tick over 100,000 deadlines with the same 10,000 due; and beside each tick, a baseline that does
the same claims and writes in plain SQL through asyncpg, in the same batches.

    python -m bench scanner_tick [--scan-large N] [--scan-small N] [--scan-due N] [--scan-rounds R] …

One run: create two uniquely named PostgreSQL databases, migrate them, bulk-load each with INSERT … SELECT
generate_series (never through the API), VACUUM ANALYZE; then, round after round and alternating small and
large, time `DeadlineScanner.tick()` (the service's own code, as `python -m services.commitments scan --once`
runs it) and the baseline on the same rows, check each sent exactly the due reminders, and put the due rows
back after each (an untimed warm-up round first). Prints each time, the medians, the ratio scanner/baseline
(reminders a second; target ≥ 0.5) and the ratio large/small of the scanner (target ≤ 1.3). The databases are
dropped at the end, even on failure.

The baseline (`_baseline_tick`) is what the scanner's work costs without SQLAlchemy: per batch of the same size,
one asyncpg transaction with the same claim (`FOR UPDATE … SKIP LOCKED`), the lead partners and rule overrides,
each row computed by the scanner's own pure `advance` (the same rules, the same event), then the schedules
updated in one executemany, the firings in one `INSERT … SELECT unnest(…) ON CONFLICT DO NOTHING RETURNING`,
and the outbox rows (the same envelope, payload and headers as `record_event`) in one executemany. What the
ratio measures is the scanner's persistence path (session, ORM bulk statements, its savepoint), not the rules.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bench.machinery.postgres import ADMIN_URL, admin_execute, plain_url

describe = "one scanner tick sending 10k due reminders over 1M deadlines vs over 100k (PostgreSQL)"

TARGET_RATIO = 1.3  # tick over the large table / tick over the small one, at most
TARGET_BASELINE = 0.5  # the scanner's reminders a second / the baseline's, at least
# "As of" Tuesday 10 March 2026, 10:00 in Paris: the due deadlines are due on Wednesday 11 March, so their D-1
# reminder (deadline.approaching) fired at 08:30 in Paris today. Every other schedule is later or disarmed.
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
DUE_ON = "2026-03-11"
DUE_FIRE_AT = datetime(2026, 3, 10, 7, 30, tzinfo=UTC)
ARMED_AT = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scanner_tick")
    group.add_argument(
        "--scan-large", type=int, default=1_000_000, help="deadlines in the large database (1000000)"
    )
    group.add_argument(
        "--scan-small", type=int, default=100_000, help="deadlines in the small database (100000)"
    )
    group.add_argument(
        "--scan-due", type=int, default=10_000, help="reminders due at the tick, in both (10000)"
    )
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
        SELECT {_uuid_sql("22222222", "g")}, 'Partenaire ' || g, 'bailleur_social', false, now(), now()
        FROM generate_series(1, 200) g""",
    f"""INSERT INTO items (id, plan_id, axis_id, objective_id, position, kind, title, plan_text, status,
                           needs_review, version, created_at, updated_at)
        SELECT {_uuid_sql("11111111", "g")}, '00000000-0000-4000-8000-000000000001',
               '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003', g, 'request',
               'Demande ' || g, 'La Ville demande au partenaire d''agir.', 'accepted', false, 1, now(), now()
        FROM generate_series(1, :n) g""",
    f"""INSERT INTO item_partners (item_id, partner_id, role)
        SELECT {_uuid_sql("11111111", "g")}, {_uuid_sql("22222222", "1 + g % 200")}, 'lead'
        FROM generate_series(1, :n) g""",
    f"""INSERT INTO deadlines (id, item_id, kind, due_on, version, created_at, updated_at)
        SELECT {_uuid_sql("33333333", "g")}, {_uuid_sql("11111111", "g")}, 'delivery',
               CASE WHEN g <= :due THEN DATE '{DUE_ON}' ELSE DATE '2026-04-01' + (g % 700) END, 1, now(), now()
        FROM generate_series(1, :n) g""",
    f"""INSERT INTO reminder_schedules (deadline_id, item_id, deadline_version, arming, anchor_on, armed_at,
                                       handled_until, escalation, next_fire_at)
        SELECT {_uuid_sql("33333333", "g")}, {_uuid_sql("11111111", "g")}, 1, 0, NULL, :armed, :armed, 'none',
               CASE WHEN g <= :due THEN CAST(:due_fire_at AS timestamptz)
                    WHEN g % 3 = 0 THEN NULL
                    ELSE CAST(:now AS timestamptz) + interval '1 hour' * (1 + g % 5000) END
        FROM generate_series(1, :n) g""",
]

RESET = [
    "DELETE FROM reminder_firings",
    "DELETE FROM outbox",
    f"""UPDATE reminder_schedules SET handled_until = :armed, next_fire_at = :due_fire_at, escalation = 'none'
        WHERE deadline_id IN (SELECT {_uuid_sql("33333333", "g")} FROM generate_series(1, :due) g)""",
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


async def _tick(engine: Any, batch_size: int) -> tuple[float, float, Any]:
    from services.commitments.database import outbox_aware_sessionmaker
    from services.commitments.reminders.scanner import DeadlineScanner
    from shared.clock import FixedClock

    scanner = DeadlineScanner(
        outbox_aware_sessionmaker(engine, lambda: None), FixedClock(NOW), batch_size=batch_size
    )
    started, cpu = time.perf_counter(), time.process_time()
    result = await scanner.tick()
    return time.perf_counter() - started, time.process_time() - cpu, result


CLAIM_SQL = """
    SELECT s.deadline_id, s.item_id, s.deadline_version, s.arming, s.anchor_on, s.armed_at, s.handled_until,
           s.escalation, d.version, d.kind, d.due_on, d.met_on, i.plan_id, i.kind, i.status
    FROM reminder_schedules s JOIN deadlines d ON d.id = s.deadline_id JOIN items i ON i.id = s.item_id
    WHERE s.next_fire_at <= $1 ORDER BY s.next_fire_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED"""
LEADS_SQL = "SELECT item_id, partner_id FROM item_partners WHERE item_id = ANY($1::uuid[]) AND role = 'lead'"
RULES_SQL = """SELECT plan_id, partner_id, item_id, overrides FROM reminder_rules
               WHERE plan_id = ANY($1::uuid[]) OR partner_id = ANY($2::uuid[]) OR item_id = ANY($3::uuid[])"""
UPDATE_SQL = """UPDATE reminder_schedules SET deadline_version = $2, arming = $3, anchor_on = $4, armed_at = $5,
                handled_until = $6, escalation = $7, next_fire_at = $8 WHERE deadline_id = $1"""
FIRINGS_SQL = """
    INSERT INTO reminder_firings (id, reminder_key, deadline_id, item_id, deadline_version, arming, step, event_type,
                                  escalation, fire_at, fired_at, skipped_steps)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::int[], $6::int[], $7::text[],
                         $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::int[])
    ON CONFLICT (reminder_key) DO NOTHING RETURNING reminder_key"""
OUTBOX_SQL = (
    "INSERT INTO outbox (event_id, event_type, payload, headers, created_at) VALUES ($1, $2, $3, $4, $5)"
)
FIRING_COLUMNS = (
    "id",
    "reminder_key",
    "deadline_id",
    "item_id",
    "deadline_version",
    "arming",
    "step",
    "event_type",
    "escalation",
    "fire_at",
    "fired_at",
    "skipped_steps",
)
SCHEDULE_COLUMNS = (
    "deadline_id",
    "deadline_version",
    "arming",
    "anchor_on",
    "armed_at",
    "handled_until",
    "escalation",
    "next_fire_at",
)


async def _baseline_tick(url: str, batch_size: int) -> tuple[float, float, int]:
    """The same tick in plain SQL through asyncpg (see the module's docstring); returns its time, its CPU time
    (this process's) and the reminders it sent. The connection is opened outside the timing, as the scanner's pool already is."""
    import json

    import asyncpg

    from services.commitments.reminders import rules as r
    from services.commitments.reminders.repository import DueSchedule
    from services.commitments.reminders.scanner import DeadlineScanner
    from shared.auth import SYSTEM
    from shared.clock import FixedClock
    from shared.events import EventEnvelope
    from shared.telemetry import inject_trace_context

    scanner = DeadlineScanner(None, FixedClock(NOW))  # type: ignore[arg-type]  # only its pure `advance`
    connection = await asyncpg.connect(plain_url(url))
    fired = 0
    try:
        started, cpu = time.perf_counter(), time.process_time()
        while True:
            async with connection.transaction():
                rows = [DueSchedule(*record) for record in await connection.fetch(CLAIM_SQL, NOW, batch_size)]
                if not rows:
                    break
                item_ids = list({row.item_id for row in rows})
                leads = {record[0]: record[1] for record in await connection.fetch(LEADS_SQL, item_ids)}
                overrides: dict[tuple[str, Any], Any] = {}
                for record in await connection.fetch(
                    RULES_SQL, list({row.plan_id for row in rows}), list(set(leads.values())), item_ids
                ):
                    for scope, target in zip(("plan", "partner", "item"), record[:3], strict=True):
                        if target is not None:
                            overrides[(scope, target)] = json.loads(record[3])
                advances = []
                for row in rows:
                    lead = leads.get(row.item_id)
                    rules = r.merge(
                        overrides.get(("plan", row.plan_id)),
                        overrides.get(("partner", lead)) if lead else None,
                        overrides.get(("item", row.item_id)),
                    )
                    advances.append(scanner.advance(row, lead, rules, NOW))
                await connection.executemany(
                    UPDATE_SQL, [tuple(a.schedule[c] for c in SCHEDULE_COLUMNS) for a in advances]
                )
                firings = [a.firing for a in advances if a.firing is not None]
                inserted = {
                    record[0]
                    for record in await connection.fetch(
                        FIRINGS_SQL, *([f.row[c] for f in firings] for c in FIRING_COLUMNS)
                    )
                }
                outbox = []
                for firing in firings:
                    if firing.key in inserted:
                        envelope = EventEnvelope.wrap(firing.event, occurred_at=NOW, actor=SYSTEM.actor)
                        outbox.append(
                            (
                                envelope.id,
                                envelope.type,
                                envelope.model_dump_json(),
                                json.dumps(dict(inject_trace_context({}))),
                                NOW,
                            )
                        )
                await connection.executemany(OUTBOX_SQL, outbox)
                fired += len(inserted)
            if len(rows) < batch_size:
                break
        return time.perf_counter() - started, time.process_time() - cpu, fired
    finally:
        await connection.close()


async def _explain(engine: Any, batch_size: int) -> str:
    from sqlalchemy import text

    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM reminder_schedules WHERE next_fire_at <= :now "
                    "ORDER BY next_fire_at LIMIT :limit FOR UPDATE SKIP LOCKED"
                ),
                {"now": NOW, "limit": batch_size},
            )
        ).all()
        await connection.rollback()
    return "\n".join("      " + row[0] for row in rows)


async def _run(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from services.commitments.migrate import upgrade_database
    from shared.db import create_engine

    print(
        f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; PostgreSQL {make_url(ADMIN_URL).host}",
        flush=True,
    )
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
            params = {
                "n": size,
                "due": args.scan_due,
                "armed": ARMED_AT,
                "now": NOW,
                "due_fire_at": DUE_FIRE_AT,
            }
            await _execute(engines[label], LOAD, params)
            await _vacuum(engines[label])
            armed = await _count(
                engines[label], "SELECT count(*) FROM reminder_schedules WHERE next_fire_at IS NOT NULL"
            )
            print(
                f"{label}: {size:,} deadlines ({armed:,} armed schedules, {args.scan_due:,} due) loaded in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
        urls = {label: engines[label].url.render_as_string(hide_password=False) for label in sizes}
        runners: dict[str, Callable[[str], Awaitable[tuple[float, float, Any]]]] = {
            "scanner": lambda label: _tick(engines[label], args.scan_batch),
            "baseline": lambda label: _baseline_tick(urls[label], args.scan_batch),
        }
        times: dict[tuple[str, str], list[float]] = {(who, label): [] for who in runners for label in sizes}
        cpu: dict[tuple[str, str], list[float]] = {key: [] for key in times}
        # Round 0 is a warm-up (imports, statement caches, the calendar's holiday tables), not counted. Each
        # round runs the scanner and the baseline on the same rows (put back in between), on each database in
        # turn; who goes first alternates from round to round, so that a drift of the machine's load does not
        # favour one. Each pair gives a ratio: the machine is shared, so pairing is what makes it usable.
        for round_number in range(args.scan_rounds + 1):
            for label in sizes:
                engine = engines[label]
                order = list(runners) if round_number % 2 == 0 else list(reversed(runners))
                for who in order:
                    elapsed, spent, result = await runners[who](label)
                    sent = result.fired if who == "scanner" else result
                    if sent != args.scan_due:
                        print(
                            f"{label}: the {who} sent {sent} reminders, expected {args.scan_due}", flush=True
                        )
                        status = 2
                    if round_number:
                        times[(who, label)].append(elapsed)
                        cpu[(who, label)].append(spent)
                    batches = f" in {result.batches} batches" if who == "scanner" else ""
                    print(
                        f"round {round_number or 'warm-up'} {label:5} {who:8}: {elapsed:6.2f} s, CPU {spent:6.2f} s "
                        f"— {sent:,} sent{batches} ({sent / elapsed:,.0f} reminders/s)",
                        flush=True,
                    )
                    await _execute(
                        engine, RESET, {"due": args.scan_due, "armed": ARMED_AT, "due_fire_at": DUE_FIRE_AT}
                    )
                    await _vacuum(engine)
        median = {key: statistics.median(values) for key, values in times.items()}
        pairs = {
            label: [b / s for s, b in zip(times[("scanner", label)], times[("baseline", label)], strict=True)]
            for label in sizes
        }
        print(
            f"median tick ({args.scan_due:,} reminders, batches of {args.scan_batch}; the ratio is the scanner's "
            "reminders/s over the baseline's, per round):"
        )
        print(
            f"  {'deadlines':>10}  {'scanner':>18}  {'asyncpg baseline':>18}  {'ratio per round':>22}  median"
        )
        for label, size in sizes.items():
            rates = [
                f"{t:5.2f} s {args.scan_due / t:6,.0f}/s"
                for t in (median[("scanner", label)], median[("baseline", label)])
            ]
            rounds = ", ".join(f"{ratio:.2f}" for ratio in pairs[label])
            print(
                f"  {size:>10,}  {rates[0]:>18}  {rates[1]:>18}  {rounds:>22}  "
                f"{statistics.median(pairs[label]):.2f}"
            )
            per = [statistics.median(cpu[(who, label)]) / args.scan_due * 1000 for who in runners]
            print(
                f"  {'CPU':>10}  {f'{per[0]:.3f} ms a reminder':>18}  {f'{per[1]:.3f} ms a reminder':>18}  "
                f"{'CPU ratio':>22}  {per[1] / per[0]:.2f}"
            )
        worst = min(statistics.median(pairs[label]) for label in sizes)
        print(
            f"ratio scanner/baseline (the lower of the two sizes' medians) = {worst:.2f} "
            f"(target ≥ {TARGET_BASELINE}): {'MET' if worst >= TARGET_BASELINE else 'NOT MET'}"
        )
        small, large = median[("scanner", "small")], median[("scanner", "large")]
        ratio = large / small
        print(
            f"scanner tick: {sizes['small']:,} deadlines {small:.2f} s, {sizes['large']:,} deadlines {large:.2f} s; "
            f"baseline: {median[('baseline', 'small')]:.2f} s, {median[('baseline', 'large')]:.2f} s"
        )
        print(
            f"ratio large/small (scanner) = {ratio:.2f} (target ≤ {TARGET_RATIO}): "
            f"{'MET' if ratio <= TARGET_RATIO else 'NOT MET'}"
        )
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
