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

Settings come from the environment (DATABASE_URL, NATS_URL …, see services/commitments/config.py). The relay
and the scanner run in workers/; the other commands are here.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shared.cli import add_serve_command, run_command, serve_app
from shared.clock import PARIS, SystemClock
from shared.roles import Role

# Only what parsing the arguments needs is imported here: `--help` answers at once, and each command imports
# what it uses (FastAPI and the ORM models for serve; the relay and the scanner their modules in workers/).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from services.commitments.config import CommitmentsSettings, ScannerSettings


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


async def relay(settings: CommitmentsSettings, _args: argparse.Namespace) -> None:
    from services.commitments.workers.relay import run_relay

    await run_relay(settings)


async def scan(settings: ScannerSettings, args: argparse.Namespace) -> None:
    from services.commitments.workers.scanner import run_scanner

    await run_scanner(settings, once=args.once, as_of=args.as_of)


def _instant(text: str) -> datetime:
    """An ISO instant; without an offset it is read as Paris time."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {text!r}") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=PARIS)


async def create_key_command(settings: CommitmentsSettings, args: argparse.Namespace) -> None:
    from services.commitments.auth.service import create_key
    from shared.auth import SYSTEM

    async with transaction(settings) as session:
        key, secret = await create_key(
            session, SYSTEM, SystemClock(), name=args.name, role=Role(args.role), partner_id=args.partner_id
        )
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
        print(
            f"{key.id!s:36}  {key.prefix:16}  {key.role:7}  {key.partner_id or '-'!s:36}  {revoked:10}  {key.name}"
        )


async def import_plan_command(settings: CommitmentsSettings, args: argparse.Namespace) -> None:
    # Imported here: the importer is a separate piece of work and the other commands must not need it.
    from services.commitments.plans.importer import import_plan_text
    from shared.auth import SYSTEM

    if args.plan is None and args.commune is None:
        raise SystemExit("error: --commune is required for a new plan (or --plan ID to complete a plan)")
    if args.plan is not None and (args.commune is not None or args.territory is not None):
        raise SystemExit(
            "error: --commune and --territory describe a new plan; the plan completed (--plan) keeps its own"
        )
    text = Path(args.file).read_text(encoding="utf-8")  # noqa: ASYNC240 - a one-shot command: the loop serves nothing else
    async with transaction(settings) as session:
        report = await import_plan_text(
            session,
            SYSTEM,
            SystemClock(),
            text,
            plan_id=args.plan,
            commune=args.commune,
            territory=args.territory,
            adopted_on=args.adopted_on,
        )
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
        directory = DirectoryFile.model_validate(json.loads(Path(args.file).read_text(encoding="utf-8")))  # noqa: ASYNC240 - a one-shot command
    except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
        raise SystemExit(f"error: {args.file} is not a directory file (docs/directory.md): {exc}") from exc
    async with transaction(settings) as session:
        report = await import_directory(session, SYSTEM, SystemClock(), directory)
    print(
        f"directory {args.file}: {len(report.created)} created, {len(report.completed)} completed, "
        f"{len(report.unchanged)} unchanged"
    )
    for label, names in (("created", report.created), ("completed", report.completed)):
        for name in names:
            print(f"  {label}: {name}")
    for warning in report.warnings:
        print(f"  warning: {warning}")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m services.commitments",
        description="Commitments service: API, outbox relay, deadline scanner and admin commands.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser("migrate", help="bring the database to the latest schema").set_defaults(
        handler=migrate
    )
    add_serve_command(commands, serve, default_port=8000)
    commands.add_parser("relay", help="run the outbox relay until SIGTERM/SIGINT").set_defaults(handler=relay)
    scan_parser = commands.add_parser("scan", help="run the deadline scanner until SIGTERM/SIGINT")
    scan_parser.add_argument("--once", action="store_true", help="one tick, print its result as JSON, exit")
    scan_parser.add_argument(
        "--as-of",
        type=_instant,
        metavar="INSTANT",
        help="run as of this instant (ISO 8601; Paris time without an offset)",
    )
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
    plan = commands.add_parser(
        "import-plan",
        help="import an action plan from its text file: a new plan, or --plan ID to complete one",
    )
    plan.add_argument("file")
    plan.add_argument(
        "--plan",
        type=uuid.UUID,
        metavar="ID",
        help="complete this plan (a text already imported into it changes nothing)",
    )
    plan.add_argument("--commune", help="the commune of a new plan (required without --plan)")
    plan.add_argument(
        "--territory", help="the neighbourhood of a new plan (its groups of partners are its own)"
    )
    plan.add_argument(
        "--adopted-on",
        type=_day,
        metavar="DATE",
        help="adoption date (YYYY-MM-DD): relative wordings count from it; default today (Paris)",
    )
    plan.set_defaults(handler=import_plan_command)
    directory = commands.add_parser(
        "import-directory",
        help="add the partners and groups of a directory file "
        "(JSON, docs/directory.md); loading it again changes nothing",
    )
    directory.add_argument("file")
    directory.set_defaults(handler=import_directory_command)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run a parsed command with its settings (read from the environment) and the service's logging."""
    from services.commitments import config

    # A command's settings class is named, not imported, while parsing: pydantic-settings is slow to import.
    return run_command(args, getattr(config, getattr(args, "settings_class", "CommitmentsSettings"))())
