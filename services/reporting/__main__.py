"""Command line of the reporting service: `python -m services.reporting <command>`.

    migrate                          bring the database to the latest schema
    serve [--host H] [--port P]      run the reports API
    project                          run the projector (consumers of the commitments and notifications
                                     streams) until SIGTERM / SIGINT
    rebuild [--into URL]             replay both streams from their first event into a fresh database

Settings come from the environment (REPORTING_DATABASE_URL, NATS_URL, EVENTS_STREAM, NOTIFICATIONS_EVENTS_STREAM,
COMMITMENTS_URL …, see services/reporting/config.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from shared.cli import add_serve_command, run_command, serve_app
from shared.clock import SystemClock

# Only what parsing the arguments needs is imported here: `--help` answers at once, and each command imports
# what it uses.
if TYPE_CHECKING:
    from services.reporting.config import ReportingSettings


def migrate(settings: ReportingSettings, _args: argparse.Namespace) -> None:
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from services.reporting.migrate import upgrade_database

    upgrade_database(settings.database_url)


def serve(settings: ReportingSettings, args: argparse.Namespace) -> None:
    from services.reporting.app import create_app

    serve_app(create_app(settings, SystemClock()), args)


async def project(settings: ReportingSettings, _args: argparse.Namespace) -> None:
    from services.reporting.projection.projector import run_until_stopped

    await run_until_stopped(settings, SystemClock())


async def rebuild(settings: ReportingSettings, args: argparse.Namespace) -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from services.reporting.projection.rebuild import rebuild as rebuild_database

    counts = await rebuild_database(settings, into=args.into, show_progress=not args.quiet)
    summary = ", ".join(f"{name} : {count} événement(s)" for name, count in counts.items())
    print(f"Base reconstruite ({summary}).", file=sys.stderr)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m services.reporting",
        description="Reporting service: reports API, projector and rebuild.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser("migrate", help="bring the database to the latest schema").set_defaults(
        handler=migrate
    )
    add_serve_command(commands, serve, default_port=8002)
    commands.add_parser("project", help="run the projector until SIGTERM/SIGINT").set_defaults(
        handler=project
    )
    rebuilding = commands.add_parser("rebuild", help="replay both streams into a fresh database")
    rebuilding.add_argument(
        "--into",
        metavar="URL",
        default=None,
        help="the fresh database to fill (default: REPORTING_DATABASE_URL)",
    )
    rebuilding.add_argument("--quiet", action="store_true", help="no progress bar")
    rebuilding.set_defaults(handler=rebuild)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from services.reporting.config import ReportingSettings

    return run_command(args, ReportingSettings())


if __name__ == "__main__":
    sys.exit(main())
