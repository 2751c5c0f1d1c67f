"""Command line of the commitments service: `python -m services.commitments <command>`.

    migrate                          bring the database to the latest schema
    serve [--host H] [--port P]      run the API (and the outbox relay when RELAY_IN_PROCESS is true)
    relay                            run the outbox relay on its own, until SIGTERM / SIGINT
    scan [--once] [--as-of T]        run the deadline scanner on its own, until SIGTERM / SIGINT
    create-key --role R --name N [--partner-id ID]   create an API key and print its secret (once)
    revoke-key KEY_ID                revoke an API key
    list-keys                        list API keys (never their secrets)
    import-directory FILE            add the partners and groups of a directory file (docs/directory.md)
    import-plan FILE (--commune C [--territory T] | --plan ID) [--adopted-on DATE]
                                     import an action plan from its text: a new plan, or complete plan ID

Settings come from the environment (DATABASE_URL, NATS_URL …, see services/commitments/config.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.cli import add_serve_command, run_command, serve_app
from shared.clock import PARIS, SystemClock
from shared.roles import Role

# Only what parsing the arguments needs is imported here: `--help` answers at once, and each command imports
# what it uses (FastAPI and the ORM models for serve, SQLAlchemy and NATS for the relay …).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from services.commitments.config import CommitmentsSettings, RelaySettings, ScannerSettings


@contextlib.asynccontextmanager
async def transaction(settings: CommitmentsSettings) -> AsyncIterator[AsyncSession]:
    """One session and one transaction for a command, committed when the command succeeds."""
    from services.commitments.database import outbox_aware_sessionmaker
    from services.commitments.subscriptions import install
    from shared.db import create_engine

    install()
    engine = create_engine(settings.database_url)
    # No relay to wake in this process: a running relay picks the rows up on its next poll.
    sessionmaker = outbox_aware_sessionmaker(engine, lambda: None)
    try:
        async with sessionmaker() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


def migrate(settings: CommitmentsSettings, _args: argparse.Namespace) -> None:
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin: noise
    from services.commitments.migrate import upgrade_database

    upgrade_database(settings.database_url)


def serve(settings: CommitmentsSettings, args: argparse.Namespace) -> None:
    from services.commitments.app import create_app

    serve_app(create_app(settings, SystemClock()), args)


async def relay(settings: RelaySettings, _args: argparse.Namespace) -> None:
    from shared.probes import worker_probes

    # HEALTH_PORT: ready while NATS is connected and the database answers; /metrics (the outbox's lag).
    connection: dict[str, Any] = {}
    hooks: list[Any] = []
    async with worker_probes(settings.health_port, settings.database_url, lambda: connection.get("nats"), hooks):
        await _relay(settings, connection, hooks)


async def _relay(settings: RelaySettings, connection: dict[str, Any], metrics_hooks: list[Any]) -> None:
    from services.commitments.database import outbox_aware_sessionmaker
    from services.commitments.outbox.relay import OutboxRelay, outbox_lag
    from shared.bus import StreamSpec, connect
    from shared.db import create_engine
    from shared.metrics import outbox_lag_hook
    from shared.telemetry import setup_tracing

    # The relay's publish spans, and the trace context of events recorded outside any HTTP request.
    if settings.tracing_enabled:
        setup_tracing(settings.otel_service_name or "commitments-relay", settings.otel_exporter_otlp_endpoint)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # connect() retries forever while NATS is away: race it against a stop request.
    connecting = asyncio.ensure_future(connect(settings.nats_url, name="commitments-relay",
                                               error_cb=_log_nats_error))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([connecting, stopping], return_when=asyncio.FIRST_COMPLETED)
    if not connecting.done():
        connecting.cancel()
        return
    stopping.cancel()
    nats_client = connecting.result()
    connection["nats"] = nats_client
    engine = create_engine(settings.database_url)
    stream = StreamSpec(settings.events_stream, settings.events_subject_prefix,
                        settings.events_duplicate_window_seconds)
    sessionmaker = outbox_aware_sessionmaker(engine, lambda: None)
    metrics_hooks.append(outbox_lag_hook(stream.name, lambda: outbox_lag(sessionmaker, SystemClock())))
    outbox_relay = OutboxRelay(sessionmaker, nats_client, stream, SystemClock(),
                               batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds,
                               pause_before_mark_seconds=settings.relay_pause_before_mark_seconds)
    try:
        await outbox_relay.run(stop)  # declares the stream (ensure_stream) before relaying
    finally:
        with contextlib.suppress(Exception):
            await nats_client.drain()
        await engine.dispose()


async def scan(settings: ScannerSettings, args: argparse.Namespace) -> None:
    from shared.probes import worker_probes

    # HEALTH_PORT: ready while the database answers. Not NATS: the scanner's events go to the outbox, and it
    # only pings the relays (which poll anyway).
    async with worker_probes(settings.health_port, settings.database_url):
        await _scan(settings, args)


async def _scan(settings: ScannerSettings, args: argparse.Namespace) -> None:
    import json

    from services.commitments.database import outbox_aware_sessionmaker
    from services.commitments.outbox.relay import ping_relays
    from services.commitments.reminders.scanner import DeadlineScanner, clock_as_of
    from services.commitments.subscriptions import install
    from shared.bus import StreamSpec, connect
    from shared.calendar import use_calendar
    from shared.db import create_engine

    use_calendar(settings.working_calendar())
    install()  # a request marked « sans réponse » moves along its lifecycle, with what that sets off
    engine = create_engine(settings.database_url)
    stream = StreamSpec(settings.events_stream, settings.events_subject_prefix,
                        settings.events_duplicate_window_seconds)
    try:  # to wake the relay at once after a batch; without NATS the relay's poll still finds the events
        # connect() retries forever while NATS is away: the scanner does not wait for it.
        nats_client = await asyncio.wait_for(connect(settings.nats_url, name="commitments-scanner",
                                                     error_cb=_log_nats_error), timeout=5)
    except Exception as exc:  # noqa: BLE001
        logging.getLogger("services.commitments.scanner").warning(
            "NATS unreachable (%s): the relay publishes the scanner's events at its next poll", exc)
        nats_client = None
    pings: set[asyncio.Task[None]] = set()

    def wake_relays() -> None:
        if nats_client is not None:
            task = asyncio.get_running_loop().create_task(ping_relays(nats_client, stream))
            pings.add(task)  # the loop holds tasks weakly
            task.add_done_callback(pings.discard)

    # Events go to the outbox in the batch's transaction; the relay publishes them.
    pause = settings.scanner_pause_in_batch_seconds

    async def pause_in_batch(firings: int) -> None:
        # A warning, not a debug line: a scanner sleeping in its transactions must not go unnoticed in production.
        logging.getLogger("services.commitments.scanner").warning(
            "fault injection: pausing %.1f s in a batch of %d firing(s)", pause, firings)
        await asyncio.sleep(pause)

    scanner = DeadlineScanner(outbox_aware_sessionmaker(engine, wake_relays), clock_as_of(args.as_of, SystemClock()),
                              batch_size=settings.scanner_batch_size, in_batch=pause_in_batch if pause > 0 else None)
    try:
        if args.once:
            result = await scanner.tick()
            print(json.dumps({"scanner": "tick", "fired": result.fired, "superseded": result.skipped,
                              "recomputed": result.recomputed, "failed": result.failed,
                              "unanswered": [str(item_id) for item_id in result.marked_unanswered]}), flush=True)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print(json.dumps({"scanner": "started"}), flush=True)
        await scanner.run(stop, settings.scanner_poll_seconds)
    finally:
        if pings:
            await asyncio.wait(pings, timeout=2)
        if nats_client is not None:
            with contextlib.suppress(Exception):
                await nats_client.drain()
        await engine.dispose()


def _instant(text: str) -> datetime:
    """An ISO instant; without an offset it is read as Paris time."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {text!r}") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=PARIS)


async def _log_nats_error(error: Exception) -> None:
    logging.getLogger("services.commitments.relay").warning("NATS: %s", error or type(error).__name__)


async def create_key_command(settings: CommitmentsSettings, args: argparse.Namespace) -> None:
    from services.commitments.auth.service import create_key
    from shared.auth import SYSTEM

    async with transaction(settings) as session:
        key, secret = await create_key(session, SYSTEM, SystemClock(), name=args.name, role=Role(args.role),
                                       partner_id=args.partner_id)
    print(f"created {key.role} key {key.id} ({key.name}); its secret, shown only now:", file=sys.stderr)
    print(secret)


async def revoke_key_command(settings: CommitmentsSettings, args: argparse.Namespace) -> None:
    from services.commitments.auth.service import PrincipalCache, revoke_key
    from shared.auth import SYSTEM

    async with transaction(settings) as session:
        key = await revoke_key(session, PrincipalCache(), SYSTEM, SystemClock(), args.key_id)
    print(f"revoked key {key.id} ({key.name}) at {key.revoked_at:%Y-%m-%d %H:%M:%S} UTC")


async def list_keys_command(settings: CommitmentsSettings, _args: argparse.Namespace) -> None:
    from services.commitments.auth.service import list_keys

    async with transaction(settings) as session:
        keys = await list_keys(session)
    print(f"{'id':36}  {'prefix':16}  {'role':7}  {'partner':36}  {'revoked':10}  name")
    for key in keys:
        revoked = f"{key.revoked_at:%Y-%m-%d}" if key.revoked_at else "-"
        print(f"{key.id!s:36}  {key.prefix:16}  {key.role:7}  {key.partner_id or '-'!s:36}  {revoked:10}  {key.name}")


async def import_plan_command(settings: CommitmentsSettings, args: argparse.Namespace) -> None:
    # Imported here: the importer is a separate piece of work and the other commands must not need it.
    from services.commitments.plans.importer import import_plan_text
    from shared.auth import SYSTEM

    if args.plan is None and args.commune is None:
        raise SystemExit("error: --commune is required for a new plan (or --plan ID to complete a plan)")
    if args.plan is not None and (args.commune is not None or args.territory is not None):
        raise SystemExit("error: --commune and --territory describe a new plan; the plan completed (--plan) keeps its own")
    text = Path(args.file).read_text(encoding="utf-8")
    async with transaction(settings) as session:
        report = await import_plan_text(session, SYSTEM, SystemClock(), text, plan_id=args.plan, commune=args.commune,
                                        territory=args.territory, adopted_on=args.adopted_on)
    print(f"{'created' if report.created_plan else 'completed'} plan {report.plan_id} from {args.file}")
    print(f"  in the text: {report.axes} axes, {report.objectives} objectives, {report.items} items")
    print(f"  items created: {report.created_items}; already in the plan: {report.unchanged_items}")
    print(f"  partners added to the directory: {', '.join(report.created_partners) or 'none'}")
    print(f"  items to review: {len(report.flagged)}")
    for flagged in report.flagged:
        for flag in flagged.flags:
            print(f"    {flagged.reference}  [{flag.code}] {flag.message}")


async def import_directory_command(settings: CommitmentsSettings, args: argparse.Namespace) -> None:
    import json

    from pydantic import ValidationError

    from services.commitments.partners.directory import DirectoryFile, import_directory
    from shared.auth import SYSTEM

    try:
        directory = DirectoryFile.model_validate(json.loads(Path(args.file).read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
        raise SystemExit(f"error: {args.file} is not a directory file (docs/directory.md): {exc}") from exc
    async with transaction(settings) as session:
        report = await import_directory(session, SYSTEM, SystemClock(), directory)
    print(f"directory {args.file}: {len(report.created)} created, {len(report.completed)} completed, "
          f"{len(report.unchanged)} unchanged")
    for label, names in (("created", report.created), ("completed", report.completed)):
        for name in names:
            print(f"  {label}: {name}")
    for warning in report.warnings:
        print(f"  warning: {warning}")


def _day(text: str) -> date:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.commitments",
                                     description="Commitments service: API, outbox relay, deadline scanner and admin commands.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser("migrate", help="bring the database to the latest schema").set_defaults(handler=migrate)
    add_serve_command(commands, serve, default_port=8000)
    commands.add_parser("relay", help="run the outbox relay until SIGTERM/SIGINT").set_defaults(
        handler=relay, settings_class="RelaySettings")
    scan_parser = commands.add_parser("scan", help="run the deadline scanner until SIGTERM/SIGINT")
    scan_parser.add_argument("--once", action="store_true", help="one tick, print its result as JSON, exit")
    scan_parser.add_argument("--as-of", type=_instant, metavar="INSTANT",
                             help="run as of this instant (ISO 8601; Paris time without an offset)")
    scan_parser.set_defaults(handler=scan, settings_class="ScannerSettings")
    create = commands.add_parser("create-key", help="create an API key and print its secret once")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--name", required=True)
    create.add_argument("--partner-id", type=uuid.UUID, help="required for (and only for) a partner key")
    create.set_defaults(handler=create_key_command)
    revoke = commands.add_parser("revoke-key", help="revoke an API key")
    revoke.add_argument("key_id", type=uuid.UUID)
    revoke.set_defaults(handler=revoke_key_command)
    commands.add_parser("list-keys", help="list API keys").set_defaults(handler=list_keys_command)
    plan = commands.add_parser("import-plan", help="import an action plan from its text file: a new plan, or "
                                                   "--plan ID to complete one")
    plan.add_argument("file")
    plan.add_argument("--plan", type=uuid.UUID, metavar="ID", help="complete this plan (a text already imported "
                                                                   "into it changes nothing)")
    plan.add_argument("--commune", help="the commune of a new plan (required without --plan)")
    plan.add_argument("--territory", help="the neighbourhood of a new plan (its groups of partners are its own)")
    plan.add_argument("--adopted-on", type=_day, metavar="DATE",
                      help="adoption date (YYYY-MM-DD): relative wordings count from it; default today (Paris)")
    plan.set_defaults(handler=import_plan_command)
    directory = commands.add_parser("import-directory", help="add the partners and groups of a directory file "
                                                             "(JSON, docs/directory.md); loading it again changes nothing")
    directory.add_argument("file")
    directory.set_defaults(handler=import_directory_command)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from services.commitments import config

    # A command's settings class is named, not imported, while parsing: pydantic-settings is slow to import.
    return run_command(args, getattr(config, getattr(args, "settings_class", "CommitmentsSettings"))())


if __name__ == "__main__":
    sys.exit(main())
