"""The multi-node fault run: a steady load of item changes and deadlines over HTTP to both commitments API
replicas, the kills listed below while it runs, a drain, then the counts (`run`, returning a `Report`).

The kills, one after another, each followed by a restart of what was killed:
    1. the NATS node leading the event stream (SIGKILL);
    2. one replica of each service and worker (SIGKILL): commitments API, relay, scanner, notifications API,
       mail worker, notifications relay;
    3. the scanner in the middle of a tick: a replica started with the test-only pause inside a batch's
       transaction (tests/services/commitments/workers/faults.py), killed there;
    4. the relay between reading (claiming) a batch and publishing it, and the relay between publishing a
       batch and marking it published (the same hooks entry);
    5. a mail worker while its SMTP sink is receiving mails from it;
    6. the reporting projector mid-batch: while its consumer of the commitments stream has messages delivered
       and not yet acknowledged (a batch being applied or just committed).

Reminders: every deadline of the load is due on the second working day from today; the scanners run as of the
next working day at 10:00 (Paris), so the step "1 working day before" of every deadline is due, once, and
goes out as a `deadline.approaching` event and one mail (the partner has a single contact).

The counts: events in the commitments outbox against messages in the stream (by event id: lost, duplicated);
reminder events against the notifications service's deliveries (by event id: not consumed); deliveries sent
against mails received (by Message-ID: lost, duplicated; the duplicates bounded by SMTP_CONNECTIONS per killed
mail worker); deadlines against reminder firings (the scanner lost none); the reporting database against the
commitments and notifications databases, read with SQL from each (items per lead partner and status, deadlines
per due date, reminders sent per partner): equal, or how many figures differ."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as day_time
from typing import Any

import httpx

from shared.calendar import WorkingCalendar
from shared.clock import PARIS
from tests.faults.cluster import SMTP_CONNECTIONS, Cluster, Process, running

REMINDER_TYPES = ("deadline.approaching", "deadline.due", "deadline.overdue", "deadline.escalated")
HOOK_PAUSE_SECONDS = 120  # the hooked process waits this long at its hook: it is killed there long before


@dataclass
class Size:
    """How big a run is: events to reach (the load goes on until every kill is done and this many events are
    in the outbox), concurrent HTTP clients, and how long a NATS node stays down."""

    events: int
    clients: int = 4
    nats_down_seconds: float = 5.0
    drain_timeout: float = 300.0
    start_timeout: float = 180.0


SHORT = Size(events=400, clients=2, nats_down_seconds=3.0)
FULL = Size(events=10_000, clients=6, nats_down_seconds=10.0, drain_timeout=900.0)


@dataclass
class Fault:
    what: str
    process: str
    at: float  # seconds since the load started
    down: float = 0.0  # seconds from the kill to the restarted process being ready
    note: str = ""


@dataclass
class Report:
    faults: list[Fault] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)
    duration: float = 0.0
    load_requests: int = 0
    load_retries: int = 0
    load_in_progress: int = 0
    reporting_differences: list[str] = field(default_factory=list)
    starts: dict[str, int] = field(default_factory=dict)

    @property
    def mail_kills(self) -> int:
        return sum(1 for fault in self.faults if fault.process.startswith("mail-worker"))

    @property
    def duplicate_bound(self) -> int:
        return self.mail_kills * SMTP_CONNECTIONS

    def table(self) -> str:
        f = self.figures
        lines = ["| Fault | Process | At (s) | Back after (s) | Note |", "|---|---|---:|---:|---|"]
        lines += [f"| {x.what} | {x.process} | {x.at:.1f} | {x.down:.1f} | {x.note} |" for x in self.faults]
        rows = [
            ("Events published (commitments outbox)", f["events_published"]),
            ("Messages in the stream (3 replicas)", f["stream_messages"]),
            ("Events lost between outbox and stream", f["lost_on_bus"]),
            ("Events twice in the stream", f["duplicated_on_bus"]),
            ("Deadlines created / reminders fired by the scanners", f"{f['deadlines']} / {f['firings']}"),
            ("Reminder events published", f["reminder_events"]),
            ("Reminder events consumed (notifications deliveries)", f["reminder_events_consumed"]),
            ("Reminder events lost by the consumers", f["lost_by_consumers"]),
            ("Deliveries sent", f["deliveries_sent"]),
            ("Distinct mails received (Message-ID)", f["mails_distinct"]),
            ("Mails lost (sent, never received)", f["mails_lost"]),
            (
                "Duplicate mails (bound: SMTP connections × mail-worker kills)",
                f"{f['mails_duplicated']} (≤ {self.duplicate_bound})",
            ),
            (
                (
                    "Reporting figures compared (items by partner and status, deadlines by due date, reminders sent "
                    "by partner)"
                ),
                f["reporting_figures"],
            ),
            (
                "**reporting = commitments**",
                "**equal**"
                if f["reporting_differences"] == 0
                else f"**{f['reporting_differences']} differences**",
            ),
            ("Processes that exited on their own", sum(1 for x in self.faults if "on its own" in x.what)),
            ("**Events lost in all**", f"**{f['lost']}**"),
        ]
        lines += ["", "| Figure | Count |", "|---|---:|"] + [f"| {name} | {value} |" for name, value in rows]
        if self.reporting_differences:
            lines += ["", "Reporting figures that differ (figure, key: source of truth → reporting):", ""]
            lines += [f"- {difference}" for difference in self.reporting_differences]
        lines += [
            "",
            (
                f"{self.load_requests} HTTP requests of load ({self.load_retries} retried on the other "
                f"replica, {self.load_in_progress} of them after a 409 « in progress »: asked again under the "
                f"same Idempotency-Key, which a retry takes over once the lease of a killed API replica's "
                f"attempt has run out), {self.duration:.0f} s from the first request to the end of the drain."
            ),
        ]
        return "\n".join(lines)


def reminder_dates(today: date, calendar: WorkingCalendar) -> tuple[date, datetime]:
    """The deadlines' due date (the second working day after today) and the scanners' instant (the first
    working day after today, 10:00 Paris), at which their step « 1 working day before » has come."""
    eve = calendar.next_working_day(today, include_today=False)
    due = calendar.next_working_day(eve, include_today=False)
    return due, datetime.combine(eve, day_time(10, 0), tzinfo=PARIS).astimezone(UTC)


class Load:
    """Clients writing items, transitions, deadlines and changes to both API replicas, round robin; a request
    refused by a dead replica (connection error, 5xx) goes to the other one with the same Idempotency-Key."""

    def __init__(self, cluster: Cluster, due_on: date) -> None:
        self.cluster = cluster
        self.due_on = due_on
        self.urls = [cluster.api_url("a"), cluster.api_url("b")]
        self.turn = itertools.count()
        self.requests = 0
        self.retries = 0
        self.in_progress = 0
        self.ids: dict[str, str] = {}
        self.stop = asyncio.Event()
        self.client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {cluster.keys['admin']}"},
            timeout=httpx.Timeout(30.0, connect=2.0),
        )

    async def call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        key = str(uuid.uuid4())
        first = next(self.turn)
        # Both replicas may refuse for a while (one killed, the other overloaded: 503 on a busy machine), and a
        # key a killed replica left « in progress » is refused until its lease (IDEMPOTENCY_LEASE_SECONDS, 30 s)
        # has run out: keep asking for up to a minute and a half.
        deadline = time.monotonic() + 90.0
        for attempt in itertools.count():
            if time.monotonic() > deadline:
                break
            url = self.urls[(first + attempt) % 2]
            try:
                response = await self.client.request(
                    method,
                    url + path,
                    json=body,
                    headers={"Idempotency-Key": key} if method == "POST" else {},
                )
            except httpx.TransportError:
                response = None
            self.requests += 1
            if (
                response is not None
                and response.status_code == 409
                and response.json().get("code") == "idempotency-key-in-progress"
            ):
                # The first attempt timed out on this side but still runs on the server, or its replica was
                # killed while running it: ask again under the same key, which gets its answer once it is done,
                # or the key once the attempt's lease (given by Retry-After) has run out.
                self.retries += 1
                self.in_progress += 1
                await asyncio.sleep(0.5)
                continue
            if response is not None and response.status_code < 500:
                if response.status_code >= 400:
                    raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
                result: dict[str, Any] = response.json()
                return result
            self.retries += 1
            await asyncio.sleep(0.2 if attempt % 2 else 0.0)
        raise RuntimeError(
            f"{method} {path}: no replica answered within a minute and a half (last: "
            f"{response.status_code if response is not None else 'no connection'})"
        )

    async def seed(self) -> None:
        partner = await self.call(
            "POST", "/v1/partners", {"name": "Hauts-de-Seine Habitat", "kind": "bailleur_social"}
        )
        await self.call(
            "POST",
            f"/v1/partners/{partner['id']}/contacts",
            {
                "email": "claire.martin@hsh.example",
                "civility": "Madame",
                "first_name": "Claire",
                "last_name": "Martin",
            },
        )
        plan = await self.call("POST", "/v1/plans", {"title": "Plan d'action — pannes", "commune": "Sceaux"})
        axis = await self.call("POST", f"/v1/plans/{plan['id']}/axes", {"number": "I", "title": "Axe"})
        objective = await self.call(
            "POST", f"/v1/axes/{axis['id']}/objectives", {"letter": "A", "title": "Obj"}
        )
        self.ids = {"partner": partner["id"], "objective": objective["id"]}

    async def client_loop(self, number: int) -> None:
        for n in itertools.count():
            if self.stop.is_set():
                return
            item = await self.call(
                "POST",
                "/v1/items",
                {
                    "objective_id": self.ids["objective"],
                    "kind": "request",
                    "title": f"Demande {number}-{n}",
                    "plan_text": "La Ville demande au bailleur un projet.",
                    "lead_partner_id": self.ids["partner"],
                },
            )
            await self.call(
                "POST",
                f"/v1/items/{item['id']}/transitions",
                {"to": "sent", "letter_reference": f"SCX/{number}-{n}"},
            )
            await self.call(
                "POST",
                f"/v1/items/{item['id']}/deadlines",
                {"kind": "response", "due_on": self.due_on.isoformat()},
            )
            await self.call("PATCH", f"/v1/items/{item['id']}", {"title": f"Demande {number}-{n} (précisée)"})

    async def close(self) -> None:
        await self.client.aclose()


class Database:
    """The counting queries, on the run's two databases."""

    def __init__(self, cluster: Cluster) -> None:
        from shared.db import create_engine

        self.commitments = create_engine(cluster.database_url("c"), pool_size=2)
        self.notifications = create_engine(cluster.database_url("n"), pool_size=2)
        self.reporting = create_engine(cluster.database_url("r"), pool_size=2)

    async def scalar(self, engine: Any, sql: str, **params: Any) -> Any:
        from sqlalchemy import text

        async with engine.connect() as connection:
            return await connection.scalar(text(sql), params)

    async def rows(self, engine: Any, sql: str) -> list[Any]:
        from sqlalchemy import text

        async with engine.connect() as connection:
            return list((await connection.execute(text(sql))).all())

    async def events(self) -> int:
        return int(await self.scalar(self.commitments, "SELECT count(*) FROM outbox"))

    async def close(self) -> None:
        await self.commitments.dispose()
        await self.notifications.dispose()
        await self.reporting.dispose()


async def _restart(process: Process, timeout: float) -> float:
    process.start()
    return await process.wait_ready(timeout)


async def run_faults(cluster: Cluster, report: Report, started: float, size: Size) -> None:
    """Every kill, one after the other, each restarted and ready before the next."""

    def fault(what: str, process: str, note: str = "") -> Fault:
        report.faults.append(entry := Fault(what, process, time.monotonic() - started, note=note))
        return entry

    async def settle() -> None:  # load between kills
        await asyncio.sleep(2.0)

    from shared.bus import connect

    await settle()
    # 1. The NATS node leading the stream.
    client = await connect(cluster.nats_urls, name="faults-harness")
    try:
        info = await client.jetstream().stream_info(cluster.stream_name)
        leader = info.cluster.leader if info.cluster is not None else None
    finally:
        await client.close()
    node = cluster.node_process(leader or "n1")
    entry = fault("NATS node killed (stream leader)", node.name, f"leader {leader}")
    killed = time.monotonic()
    node.kill()
    await asyncio.sleep(size.nats_down_seconds)
    await _restart(node, size.start_timeout)
    entry.down = time.monotonic() - killed
    await settle()

    # 2. One replica of each service and worker.
    for name in (
        "commitments-api-b",
        "relay-b",
        "scanner-b",
        "notifications-api-b",
        "mail-worker-b",
        "notifications-relay",
    ):
        process = cluster.services[name]
        entry = fault("replica killed", name)
        killed = time.monotonic()
        process.kill()
        await asyncio.sleep(1.0)
        await _restart(process, size.start_timeout)
        entry.down = time.monotonic() - killed
    await settle()

    # 3 and 4. The scanner inside a batch's transaction, the relay between reading a batch and publishing it,
    # and between publishing and marking it: the replica is stopped, started again with the pause at its hook
    # (the hooks entry's command), killed once it says it is there, restarted plainly.
    hooks = (
        ("scanner killed mid-tick (in a batch's transaction)", "scanner-a", "scan", '"paused-in-batch"'),
        (
            "relay killed between commit and publish (batch read, not published)",
            "relay-a",
            "relay-before-publish",
            '"read-unpublished"',
        ),
        ("relay killed between publish and mark", "relay-a", "relay", '"published-unmarked"'),
    )
    for what, name, hook, marker in hooks:
        process = cluster.services[name]
        process.stop()
        offset = process.log_size()
        options = process.argv[process.argv.index("services.commitments") + 2 :]
        process.start(
            [
                process.argv[0],
                "-m",
                "tests.services.commitments.workers.faults",
                str(HOOK_PAUSE_SECONDS),
                hook,
                *options,
            ]
        )
        await process.wait_for_output(marker, offset, size.start_timeout)
        entry = fault(what, name, "killed at its hook")
        killed = time.monotonic()
        process.kill()
        await _restart(process, size.start_timeout)
        entry.down = time.monotonic() - killed
        await settle()

    # 5. A mail worker while its sink receives mails from it.
    process = cluster.services["mail-worker-a"]
    handler = cluster.sink.handlers[0]
    waited = time.monotonic()
    while handler.in_flight == 0:
        if not process.running:
            raise RuntimeError(f"mail-worker-a exited:\n{process.log_text()[-3000:]}")
        if time.monotonic() - waited > size.start_timeout:
            raise TimeoutError("mail-worker-a never had a mail in flight")
        await asyncio.sleep(0.002)
    in_flight = handler.in_flight
    entry = fault("mail worker killed mid-send", "mail-worker-a", f"{in_flight} mail(s) in flight")
    killed = time.monotonic()
    process.kill()
    await asyncio.sleep(1.0)
    await _restart(process, size.start_timeout)
    entry.down = time.monotonic() - killed
    await settle()

    # 6. The reporting projector with a batch of the commitments stream delivered and not acknowledged.
    process = cluster.services["reporting-projector"]
    client = await connect(cluster.nats_urls, name="faults-harness")
    try:
        js = client.jetstream()
        durable = process.env["PROJECTOR_DURABLE"]
        waited = time.monotonic()
        while True:
            try:
                in_batch = (await js.consumer_info(cluster.stream_name, durable)).num_ack_pending
            except Exception:  # noqa: BLE001 - the consumer not made yet, a leader being elected: look again
                in_batch = 0
            if in_batch:
                break
            if not process.running:
                raise RuntimeError(f"reporting-projector exited:\n{process.log_text()[-3000:]}")
            if time.monotonic() - waited > size.start_timeout:
                raise TimeoutError("the reporting projector never had a batch in hand")
            await asyncio.sleep(0.005)
        process.kill()
    finally:
        await client.close()
    entry = fault(
        "reporting projector killed mid-batch",
        "reporting-projector",
        f"{in_batch} event(s) delivered, not acknowledged",
    )
    killed = time.monotonic()
    await asyncio.sleep(1.0)
    await _restart(process, size.start_timeout)
    entry.down = time.monotonic() - killed


async def watch(cluster: Cluster, report: Report, started: float, timeout: float) -> None:
    """A process that exits when nobody killed it is a fault of the run (reported, then restarted)."""
    while True:
        for process in [*cluster.nats, *cluster.services.values()]:
            if process.exited_on_its_own:
                assert process.popen is not None
                lines = [line for line in process.log_text().splitlines() if line.strip()]
                report.faults.append(
                    entry := Fault(
                        "**exited on its own**",
                        process.name,
                        time.monotonic() - started,
                        note=f"code {process.popen.returncode}: {lines[-1][:150] if lines else ''}",
                    )
                )
                exited = time.monotonic()
                entry.down = await _restart(process, timeout)
                entry.down = time.monotonic() - exited
        await asyncio.sleep(0.5)


async def drain(cluster: Cluster, database: Database, as_of: datetime, timeout: float) -> None:
    """Wait until every event is published, every due reminder fired, every reminder consumed and every
    delivery sent."""
    from shared.bus import connect

    client = await connect(cluster.nats_urls, name="faults-harness")
    js = client.jetstream()
    started = time.monotonic()
    try:
        while True:
            unpublished = await database.scalar(
                database.commitments, "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            unfired = await database.scalar(
                database.commitments,
                "SELECT count(*) FROM reminder_schedules WHERE next_fire_at <= :as_of",
                as_of=as_of,
            )
            pending = await database.scalar(
                database.notifications, "SELECT count(*) FROM deliveries WHERE status = 'pending'"
            )
            unpublished += await database.scalar(
                database.notifications, "SELECT count(*) FROM notifications_outbox WHERE published_at IS NULL"
            )
            durable = cluster.services["reporting-projector"].env["PROJECTOR_DURABLE"]
            unconsumed = unprojected = 0
            try:
                for stream, consumer_name in (
                    (cluster.stream_name, "notifications"),
                    (cluster.stream_name, durable),
                    (cluster.notifications_stream_name, durable),
                ):
                    consumer = await js.consumer_info(stream, consumer_name)
                    waiting = consumer.num_pending + consumer.num_ack_pending
                    if consumer_name == durable:
                        unprojected += waiting
                    else:
                        unconsumed += waiting
            except Exception:  # noqa: BLE001 - the cluster still electing, a consumer not made yet: not drained
                unconsumed = -1
            if unpublished == unfired == pending == unconsumed == unprojected == 0:
                return
            if time.monotonic() - started > timeout:
                raise TimeoutError(
                    f"not drained within {timeout:.0f} s: {unpublished} unpublished, {unfired} "
                    f"reminders not fired, {unconsumed} not consumed, {pending} deliveries pending, "
                    f"{unprojected} not projected"
                )
            await asyncio.sleep(1.0)
    finally:
        await client.close()


async def stream_event_ids(cluster: Cluster) -> list[str]:
    """Every message of the stream, by its Nats-Msg-Id (the event id)."""
    from shared.bus import connect

    client = await connect(cluster.nats_urls, name="faults-harness")
    try:
        js = client.jetstream()
        total = (await js.stream_info(cluster.stream_name)).state.messages
        subscription = await js.subscribe(
            f"{cluster.subject_prefix}.>", stream=cluster.stream_name, ordered_consumer=True
        )
        ids = []
        for _ in range(total):
            message = await subscription.next_msg(timeout=30)
            ids.append((message.headers or {}).get("Nats-Msg-Id", ""))
        await subscription.unsubscribe()
        return ids
    finally:
        await client.close()


async def count(cluster: Cluster, database: Database, report: Report) -> None:
    outbox = {
        str(row[0]): row[1]
        for row in await database.rows(database.commitments, "SELECT event_id, event_type FROM outbox")
    }
    in_stream = await stream_event_ids(cluster)
    stream_ids = set(in_stream)
    reminders = {event_id for event_id, kind in outbox.items() if kind in REMINDER_TYPES}
    consumed = {
        str(row[0])
        for row in await database.rows(database.notifications, "SELECT DISTINCT event_id FROM deliveries")
    }
    sent = [
        row[0]
        for row in await database.rows(
            database.notifications, "SELECT message_id FROM deliveries WHERE status = 'sent'"
        )
    ]
    mails = cluster.sink.counts()
    lost_on_bus = len(set(outbox) - stream_ids)
    lost_by_consumers = len(reminders - consumed)
    mails_lost = len(set(sent) - set(mails))
    report.figures = {
        "events_published": len(outbox),
        "stream_messages": len(in_stream),
        "lost_on_bus": lost_on_bus,
        "duplicated_on_bus": len(in_stream) - len(stream_ids),
        "deadlines": int(await database.scalar(database.commitments, "SELECT count(*) FROM deadlines")),
        "firings": int(await database.scalar(database.commitments, "SELECT count(*) FROM reminder_firings")),
        "reminder_events": len(reminders),
        "reminder_events_consumed": len(reminders & consumed),
        "lost_by_consumers": lost_by_consumers,
        "deliveries_sent": len(sent),
        "mails_distinct": len(mails),
        "mails_lost": mails_lost,
        "mails_duplicated": sum(mails.values()) - len(mails),
        "lost": lost_on_bus + lost_by_consumers + mails_lost,
    }
    report.figures["lost"] += report.figures["deadlines"] - report.figures["firings"]
    compared, report.reporting_differences = await compare_reporting(database)
    report.figures["reporting_figures"] = compared
    report.figures["reporting_differences"] = len(report.reporting_differences)


# Each figure read from the source of truth and from the reporting database: rows (key..., count).
REPORTING_CHECKS = (
    (
        "items by lead partner and status",
        (
            "SELECT ip.partner_id::text, i.status, count(*) FROM items i "
            "JOIN item_partners ip ON ip.item_id = i.id AND ip.role = 'lead' GROUP BY 1, 2"
        ),
        "SELECT lead_partner_id::text, status, count(*) FROM items WHERE lead_partner_id IS NOT NULL GROUP BY 1, 2",
    ),
    (
        "items by status",
        "SELECT status, count(*) FROM items GROUP BY 1",
        "SELECT status, count(*) FROM items GROUP BY 1",
    ),
    (
        "deadlines by due date",
        "SELECT due_on::text, count(*) FROM deadlines GROUP BY 1",
        "SELECT due_on::text, count(*) FROM deadlines WHERE NOT removed GROUP BY 1",
    ),
)
REMINDERS_CHECK = (
    "reminders sent by partner",
    "SELECT partner_id::text, count(*) FROM deliveries WHERE status = 'sent' GROUP BY 1",
    "SELECT partner_id::text, count(*) FROM deliveries WHERE sent_on IS NOT NULL GROUP BY 1",
)


async def compare_reporting(database: Database) -> tuple[int, list[str]]:
    """The reporting database against the commitments database (items, deadlines) and the notifications
    database (reminders sent), each read with SQL: how many figures were compared, and those that differ (a
    figure present on one side only counts as one difference)."""
    compared = 0
    differences: list[str] = []
    checks = [(database.commitments, *check) for check in REPORTING_CHECKS]
    checks.append((database.notifications, *REMINDERS_CHECK))
    for source, what, source_sql, reporting_sql in checks:
        expected = {tuple(row[:-1]): int(row[-1]) for row in await database.rows(source, source_sql)}
        projected = {
            tuple(row[:-1]): int(row[-1]) for row in await database.rows(database.reporting, reporting_sql)
        }
        keys = set(expected) | set(projected)
        compared += len(keys)
        differences += [
            f"{what}, {', '.join(map(str, key))}: {expected.get(key)} → {projected.get(key)}"
            for key in sorted(keys, key=str)
            if expected.get(key) != projected.get(key)
        ]
    return compared, differences


async def run(
    admin_database_url: str, size: Size, today: date | None = None, keep_logs: Any = None
) -> Report:
    """One whole run; the cluster is gone when this returns or raises."""
    from shared.calendar import default_calendar
    from shared.clock import SystemClock, paris_today

    due_on, as_of = reminder_dates(today or paris_today(SystemClock()), default_calendar())
    report = Report()
    async with running(
        admin_database_url, as_of, keep=keep_logs, start_timeout=size.start_timeout
    ) as cluster:
        database = Database(cluster)
        load = Load(cluster, due_on)
        clients: list[asyncio.Task[None]] = []
        try:
            await load.seed()
            started = time.monotonic()
            clients = [asyncio.create_task(load.client_loop(n)) for n in range(size.clients)]
            watcher = asyncio.create_task(watch(cluster, report, started, size.start_timeout))
            clients.append(watcher)
            await run_faults(cluster, report, started, size)
            while await database.events() < size.events:
                if any(task.done() for task in clients[:-1]):
                    break
                await asyncio.sleep(1.0)
            load.stop.set()
            watcher.cancel()
            await asyncio.gather(*clients[:-1])
            await drain(cluster, database, as_of, size.drain_timeout)
            report.duration = time.monotonic() - started
            await count(cluster, database, report)
            report.load_requests, report.load_retries = load.requests, load.retries
            report.load_in_progress = load.in_progress
            report.starts = {
                process.name: process.starts for process in [*cluster.nats, *cluster.services.values()]
            }
        finally:
            load.stop.set()
            for task in clients:
                task.cancel()
            await asyncio.gather(*clients, return_exceptions=True)
            await load.close()
            await database.close()
    return report
