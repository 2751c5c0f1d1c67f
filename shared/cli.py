"""What every service's command line (`python -m services.<name> <command>`) does the same way: its `serve`
command, and running the chosen command with its settings and logging.

A command line imports only what parsing its arguments needs: `--help` must answer at once, and each command
imports its own heavy modules (FastAPI, the ORM models, OpenTelemetry's SDK …) in its handler.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.config import ServiceSettings

Handler = Callable[[Any, argparse.Namespace], Awaitable[None] | None]


def add_serve_command(commands: Any, handler: Handler, default_port: int) -> None:
    """`serve [--host H] [--port P]` (HOST and PORT from the environment by default)."""
    serve = commands.add_parser("serve", help="run the API")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", str(default_port))))
    serve.set_defaults(handler=handler)


def serve_app(app: Any, args: argparse.Namespace) -> None:
    """Run an ASGI app under uvicorn, its loggers going through the handler setup_logging installed."""
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, log_config=None)


def run_command(args: argparse.Namespace, settings: ServiceSettings) -> int:
    """Run the parsed command's handler (plain or async) with the settings: 0, 2 on a DomainError, 130 on ^C."""
    from shared.telemetry import setup_logging

    setup_logging(settings.log_level, settings.log_json)
    handler: Handler = args.handler
    try:
        outcome = handler(settings, args)
        if asyncio.iscoroutine(outcome):
            asyncio.run(outcome)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if not _is_domain_error(error):
            raise
        print(f"error: {error.detail}", file=sys.stderr)  # type: ignore[attr-defined]  # a DomainError (checked above)
        return 2
    return 0


def _is_domain_error(error: Exception) -> bool:
    # A DomainError exists only if shared.problems was imported; looking it up rather than importing it keeps
    # FastAPI (which shared.problems needs for its handlers) out of the commands that never raise one.
    problems = sys.modules.get("shared.problems")
    return problems is not None and isinstance(error, problems.DomainError)
