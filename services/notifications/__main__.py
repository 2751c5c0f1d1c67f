"""Command line of the notifications service: `python -m services.notifications <command>`.

    migrate                          bring the database to the latest schema (every migration head)
    serve [--host H] [--port P]      run the API
    consume                          run the event consumer, the SMTP sender and the weekly digest, until
                                     SIGTERM / SIGINT

Settings come from the environment (NOTIFICATIONS_DATABASE_URL, NATS_URL, COMMITMENTS_URL, SMTP_HOST …,
see services/notifications/config.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable

from services.notifications.config import NotificationsSettings
from shared.clock import SystemClock
from shared.problems import DomainError
from shared.telemetry import setup_logging


def migrate(settings: NotificationsSettings, _args: argparse.Namespace) -> None:
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin: noise
    from services.notifications.migrate import upgrade_database

    upgrade_database(settings.database_url)


def serve(settings: NotificationsSettings, args: argparse.Namespace) -> None:
    import uvicorn

    from services.notifications.app import create_app

    # log_config=None: uvicorn's loggers go through the handler setup_logging installed.
    uvicorn.run(create_app(settings, SystemClock()), host=args.host, port=args.port, log_config=None)


async def consume(settings: NotificationsSettings, _args: argparse.Namespace) -> None:
    from services.notifications.consumer import run_until_stopped

    await run_until_stopped(settings, SystemClock())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.notifications",
                                     description="Notifications service: API, event consumer and SMTP sender.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser("migrate", help="bring the database to the latest schema").set_defaults(handler=migrate)
    serve_parser = commands.add_parser("serve", help="run the API")
    serve_parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8001")))
    serve_parser.set_defaults(handler=serve)
    commands.add_parser("consume", help="run the consumer, sender and digest until SIGTERM/SIGINT").set_defaults(
        handler=consume)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = NotificationsSettings()
    setup_logging(settings.log_level, settings.log_json)
    handler: Callable[[NotificationsSettings, argparse.Namespace], Awaitable[None] | None] = args.handler
    try:
        outcome = handler(settings, args)
        if asyncio.iscoroutine(outcome):
            asyncio.run(outcome)
    except DomainError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
