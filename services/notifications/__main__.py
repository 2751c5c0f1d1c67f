"""Command line of the notifications service: `python -m services.notifications <command>`.

    migrate                          bring the database to the latest schema (every migration head)
    serve [--host H] [--port P]      run the API
    consume                          run the event consumer, the SMTP sender, the weekly digest and (unless
                                     OUTBOX_RELAY_IN_WORKER=false) the outbox relay, until SIGTERM / SIGINT
    relay                            run the outbox relay on its own (the service's events to its stream),
                                     until SIGTERM / SIGINT

Settings come from the environment (NOTIFICATIONS_DATABASE_URL, NATS_URL, COMMITMENTS_URL, SMTP_HOST …,
see services/notifications/config.py).
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
    from services.notifications.config import NotificationsSettings


def migrate(settings: NotificationsSettings, _args: argparse.Namespace) -> None:
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin: noise
    from services.notifications.migrate import upgrade_database

    upgrade_database(settings.database_url)


def serve(settings: NotificationsSettings, args: argparse.Namespace) -> None:
    from services.notifications.app import create_app

    serve_app(create_app(settings, SystemClock()), args)


async def consume(settings: NotificationsSettings, _args: argparse.Namespace) -> None:
    from services.notifications.consumer import run_until_stopped

    await run_until_stopped(settings, SystemClock())


async def relay(settings: NotificationsSettings, _args: argparse.Namespace) -> None:
    from services.notifications.outbox.relay import run_until_stopped

    await run_until_stopped(settings, SystemClock())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m services.notifications",
        description="Notifications service: API, event consumer and SMTP sender.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser("migrate", help="bring the database to the latest schema").set_defaults(
        handler=migrate
    )
    add_serve_command(commands, serve, default_port=8001)
    commands.add_parser(
        "consume", help="run the consumer, sender and digest until SIGTERM/SIGINT"
    ).set_defaults(handler=consume)
    commands.add_parser("relay", help="run the outbox relay until SIGTERM/SIGINT").set_defaults(handler=relay)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from services.notifications.config import NotificationsSettings

    return run_command(args, NotificationsSettings())


if __name__ == "__main__":
    sys.exit(main())
