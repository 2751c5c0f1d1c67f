"""Schemathesis over a whole service: the app served by uvicorn in a thread of its own (real HTTP, its own
event loop, so that schemathesis' synchronous calls reach it while the test waits), the OpenAPI read from it,
and the checks every response must pass.

Budget (the suite's share: about a minute for both services): on PostgreSQL only, with an admin key every
operation gets schemathesis' examples and coverage phases (boundaries, missing and wrong-typed fields) and
`FUZZ_EXAMPLES` random cases (default 5); with a partner key, half as many random cases and no coverage phase.
`make fuzz` runs the same tests on SQLite too (`FUZZ_SQLITE=1`), with 200 random cases per operation and the
coverage phase for both keys. Every run is deterministic (derandomised, fixed seed).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import requests
import schemathesis
import uvicorn
from fastapi import FastAPI
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from sqlalchemy import text

from tests.french import english_in

T = TypeVar("T")

# A body sent as it is (the notifications service's bounces, POST /v1/deliveries/bounces: a whole mail).
schemathesis.serializer.alias("message/rfc822", "application/octet-stream")

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
LONG_RUN = "FUZZ_EXAMPLES" in os.environ
ON_SQLITE = os.environ.get("FUZZ_SQLITE") == "1"
# Generous: the suite may share a busy machine. A request that waits on a database lock never ends, so a
# hang still fails, and then says what the database sessions were doing.
REQUEST_TIMEOUT_SECONDS = 30


class ThreadedServer:
    """An ASGI app under uvicorn on a free port, in a thread with its own event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", loop="asyncio"
            )
        )
        self.thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.app.title} did not start")
            time.sleep(0.02)
        return self

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the server's loop (where its engine and pools live) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=timeout)

    def database_activity(self) -> str:
        """What the other PostgreSQL sessions of the app's database are doing (to explain a hang)."""

        async def activity() -> str:
            engine = self.app.state.engine
            if engine.dialect.name != "postgresql":
                return "(SQLite)"
            async with engine.connect() as connection:
                rows = (
                    await connection.execute(
                        text(
                            "SELECT pid, state, wait_event_type, wait_event, now() - xact_start, left(query, 160) "
                            "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    )
                ).all()
            return "\n".join(" | ".join(map(str, row)) for row in rows) or "(none)"

        try:
            return self.call(activity(), timeout=10)
        except Exception as exc:  # noqa: BLE001 - a diagnostic must not hide the failure it explains
            return f"(could not be read: {exc!r}; the server's event loop may be blocked)"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.loop.close()


def config(thorough: bool) -> SchemathesisConfig:
    data: dict[str, Any] = {
        "seed": 20260302,
        "generation": {
            "max-examples": MAX_EXAMPLES if thorough else max(2, MAX_EXAMPLES // 2),
            "deterministic": True,
        },
    }
    if not thorough and not LONG_RUN:
        data["phases"] = {"coverage": {"enabled": False}}
    return SchemathesisConfig.from_dict(data)


def schema_of(app: FastAPI, thorough: bool = True) -> schemathesis.BaseSchema:
    """The schema of a service, read from its app (the same for every instance: no database needed)."""
    return schemathesis.openapi.from_dict(app.openapi(), config=config(thorough))


def skip_sqlite_unless_asked(database_url: str) -> None:
    if database_url.startswith("sqlite") and not ON_SQLITE:
        import pytest

        pytest.skip("the suite fuzzes the API on PostgreSQL; `make fuzz` adds SQLite")


def use_existing_ids(case: Case, ids: dict[str, list[str]]) -> None:
    """Point most well-formed ids of the path at objects that exist, so that operations go past their 404;
    the choice follows the generated id, so a run stays deterministic. Malformed ids (negative cases) stay."""
    for name, value in (case.path_parameters or {}).items():
        choices = ids.get(name)
        if not choices or not isinstance(value, str):
            continue
        try:
            drawn = uuid.UUID(value).int
        except ValueError:
            continue
        index = drawn % (len(choices) + 1)
        if index < len(choices):
            case.path_parameters[name] = choices[index]


def problems_in_french(ctx: Any, response: Any, case: Case) -> bool | None:
    """A problem+json answer is told in French (no English message from pydantic, Starlette or FastAPI)."""
    if not response.headers.get("content-type", [""])[0].startswith("application/problem+json"):
        return None
    leaked = english_in(response.json())
    if leaked:
        raise Failure(
            operation=case.operation.label,
            title="English in a problem",
            message=f"Texts a person reads are in English: {leaked}",
        )
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    problems_in_french,
]


def _timed_out(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, (TimeoutError, requests.exceptions.Timeout)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def call_and_validate(case: Case, server: ThreadedServer, secret: str, ids: dict[str, list[str]]) -> None:
    use_existing_ids(case, ids)
    try:
        case.call_and_validate(
            base_url=server.url,
            headers={"Authorization": f"Bearer {secret}"},
            checks=CHECKS,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    except Exception as exc:
        if not _timed_out(exc):
            raise
        raise AssertionError(
            f"{case.operation.label}: no answer within {REQUEST_TIMEOUT_SECONDS} s. Database "
            f"sessions then:\n{server.database_activity()}"
        ) from exc
