"""The reporting read model the scorecard bench measures over, loaded straight into the migrated tables with
INSERT … SELECT generate_series (never through the projector): as the projection of about `events` events would
leave it. Deterministic: row n of each table is the same on every run.

For item n (1…items): lead partner n mod partners; requested 2026-01-05 + (n mod 300) days; 7 in 10
acknowledged, 6 in 10 answered (2 in 3 of them by their date), 3 in 10 delivered, 1 in 10 verified; one response
date each, a delivery date for one in 2, a third of them moved; two reminder deliveries for one item in 2 (sent,
refused or bounced); the rest of the events as timeline entries and applied event ids."""

from __future__ import annotations

from typing import Any

PERIOD = ("2026-01-01", "2026-12-31")
AS_OF = "2026-12-01"


def _uuid(prefix: str, number: str) -> str:
    return f"md5('{prefix}' || {number})::uuid"


def statements(items: int, events: int, partners: int) -> list[str]:
    n = "g"
    item = _uuid("item", n)
    requested = f"(date '2026-01-05' + ({n} % 300))"
    answered = f"CASE WHEN {n} % 10 < 6 THEN {requested} + 3 + ({n} % 17) END"
    status = (
        f"(ARRAY['verified','delivered','delivered','in_progress','in_progress','in_progress','acknowledged',"
        f"'sent','sent','draft'])[{n} % 10 + 1]"
    )
    waiting = (
        f"(ARRAY['none','city','city','partner','partner','partner','partner','partner','partner',"
        f"'city'])[{n} % 10 + 1]"
    )
    lead = _uuid("partner", f"({n} % {partners} + 1)")
    timeline_rows = max(events - 4 * items, items)
    return [
        (
            f"INSERT INTO partners (id, name, kind, is_group) SELECT {_uuid('partner', n)}, 'Partenaire ' || g, "
            f"'association', false FROM generate_series(1, {partners}) g"
        ),
        f"INSERT INTO plans (id, title, commune) VALUES ({_uuid('plan', '1')}, 'Plan d''action', 'Sceaux')",
        (
            f"INSERT INTO axes (id, plan_id, number, title, position) SELECT {_uuid('axis', n)}, {_uuid('plan', '1')}, "
            f"g::text, 'Axe ' || g, g FROM generate_series(1, 5) g"
        ),
        (
            f"INSERT INTO objectives (id, axis_id, plan_id, letter, title, position) SELECT {_uuid('objective', n)}, "
            f"{_uuid('axis', '(g % 5 + 1)')}, {_uuid('plan', '1')}, chr(65 + g / 5), 'Objectif ' || g, g "
            f"FROM generate_series(0, 19) g"
        ),
        (
            f"INSERT INTO items (id, plan_id, objective_id, kind, title, status, waiting_on, lead_partner_id, "
            f"progress_percent, created_on, status_changed_on, requested_on, acknowledged_on, answered_on, delivered_on, "
            f"verified_on, response_delay_working_days, answered_by_deadline) "
            f"SELECT {item}, {_uuid('plan', '1')}, {_uuid('objective', f'({n} % 20)')}, 'request', 'Demande ' || g, "
            f"{status}, {waiting}, {lead}, ({n} * 7) % 101, date '2026-01-02', {requested}, {requested}, "
            f"CASE WHEN {n} % 10 < 7 THEN {requested} + 2 END, {answered}, "
            f"CASE WHEN {n} % 10 < 3 THEN {requested} + 40 END, CASE WHEN {n} % 10 < 1 THEN {requested} + 50 END, "
            f"CASE WHEN {n} % 10 < 6 THEN (3 + {n} % 17) * 5 / 7 END, CASE WHEN {n} % 10 < 6 THEN {n} % 3 <> 0 END "
            f"FROM generate_series(1, {items}) g"
        ),
        (
            f"INSERT INTO item_partners (item_id, partner_id, relation) SELECT {item}, {lead}, 'lead' "
            f"FROM generate_series(1, {items}) g"
        ),
        (
            f"INSERT INTO deadlines (id, item_id, kind, original_due_on, due_on, version, met_on, removed) "
            f"SELECT {_uuid('response', n)}, {item}, 'response', {requested} + 15, {requested} + 15 + ({n} % 3 = 0)::int * 10, "
            f"1 + ({n} % 3 = 0)::int, {answered}, false FROM generate_series(1, {items}) g"
        ),
        (
            f"INSERT INTO deadlines (id, item_id, kind, original_due_on, due_on, version, met_on, removed) "
            f"SELECT {_uuid('delivery', n)}, {item}, 'delivery', {requested} + 60, {requested} + 60, 1, "
            f"CASE WHEN {n} % 10 < 3 THEN {requested} + 40 END, false FROM generate_series(2, {items}, 2) g"
        ),
        (
            f"INSERT INTO deliveries (id, reminder_key, item_id, partner_id, channel, attempts, sent_on, failed_on, "
            f"bounced_on, first_seen_on) SELECT {_uuid('delivery', 'g || k')}, 'r' || g || ':1:1:overdue', {item}, {lead}, "
            f"'email', 1, CASE WHEN (g + k) % 10 < 8 THEN {requested} + 16 END, "
            f"CASE WHEN (g + k) % 10 >= 8 THEN {requested} + 16 END, CASE WHEN (g + k) % 20 = 0 THEN {requested} + 17 END, "
            f"{requested} + 16 FROM generate_series(1, {items}, 2) g, generate_series(1, 2) k"
        ),
        (
            f'INSERT INTO timeline_entries (event_id, item_id, occurred_at, stream, stream_seq, "on", type, details) '
            f"SELECT {_uuid('event', n)}, {_uuid('item', f'(g % {items} + 1)')}, "
            f"timestamptz '2026-01-05 08:00+00' + g * interval '20 seconds', 'commitments', g, NULL, "
            f"'item.status_changed', '{{}}'::json FROM generate_series(1, {timeline_rows}) g"
        ),
        (
            f"INSERT INTO processed_events (event_id, stream, stream_seq) SELECT {_uuid('event', n)}, 'commitments', g "
            f"FROM generate_series(1, {events}) g"
        ),
        f"INSERT INTO stream_positions (stream, last_seq) VALUES ('commitments', {events})",
    ]


async def load(connection: Any, items: int, events: int, partners: int) -> list[str]:
    """Fill the tables; the ids of the partners the load cycles over."""
    for statement in statements(items, events, partners):
        await connection.execute(statement)
    await connection.execute("VACUUM ANALYZE")
    return [str(row["id"]) for row in await connection.fetch("SELECT id FROM partners ORDER BY name")]
