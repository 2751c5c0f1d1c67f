"""`/healthz` (the process is alive) and `/readyz` (it can do its work), for orchestrators and load balancers.

Readiness reflects what a process needs in order to serve. An API needs its database: a NATS outage does not
take it out of rotation (the commitments service's outbox keeps the events), so NATS and the relay's lag are
reported beside the verdict, as information. The relay and the consumers need NATS: they are not ready without
it. Those have no API; `serve_probes` gives them the same two routes on a port of their own (HEALTH_PORT).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

Info = Callable[[], Awaitable[Any]]
Checks = Callable[[], Awaitable[dict[str, str]]]
# A report that cannot be had within this is "unavailable", and a probe that cannot be answered within it fails.
REPORT_TIMEOUT_SECONDS = 2.0

_READY = {"status": "ready", "checks": {"database": "ok"},
          "info": {"nats": "unreachable", "outbox": {"unpublished": 12, "oldest_unpublished_seconds": 41.5}}}
_NOT_READY = {"status": "not ready", "checks": {"database": "unreachable: ConnectionRefusedError"},
              "info": {"nats": "connected"}}


async def database_check(engine: AsyncEngine) -> str:
    """"ok" when the database answers a trivial query, else why not."""
    try:
        async with asyncio.timeout(REPORT_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - whatever it is, the database is not answering, and this says why
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def nats_state(connected: bool) -> str:
    return "connected" if connected else "unreachable"


async def _report(info: Info) -> Any:
    try:
        async with asyncio.timeout(REPORT_TIMEOUT_SECONDS):
            return await info()
    except Exception as exc:  # noqa: BLE001 - information only: say it is missing and why
        return f"unavailable: {type(exc).__name__}"


def add_health_routes(app: FastAPI, engine: AsyncEngine, info: Mapping[str, Info] | None = None) -> None:
    """Serve /healthz and /readyz on `app`: ready while the database answers; `info` adds what an operator
    wants to see beside the verdict (NATS, the relay's lag, the admission counters) without deciding it."""
    reports = dict(info or {})

    @app.get("/healthz", tags=["Operations"],
             responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["Operations"], responses={
        200: {"content": {"application/json": {"example": _READY}}},
        503: {"content": {"application/json": {"example": _NOT_READY}}}})
    async def readyz() -> JSONResponse:
        """Ready (200) while the database answers, 503 otherwise; NATS and the like are reported, not required."""
        checks = {"database": await database_check(engine)}
        ready = all(value == "ok" for value in checks.values())
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
        if reports:
            values = await asyncio.gather(*(_report(report) for report in reports.values()))
            body["info"] = dict(zip(reports, values, strict=True))
        return JSONResponse(body, status_code=200 if ready else 503)


@contextlib.contextmanager
def serve_probes(port: int | None, checks: Checks, host: str = "0.0.0.0") -> Iterator[int | None]:  # noqa: S104
    """/healthz and /readyz on `port` for a process without an API (relay, scanner, consumers), while the
    block runs; no port, no probes. Ready when every check says "ok"; alive while the event loop answers.

    A standard-library HTTP server in a thread (as prometheus_client serves its metrics): it takes nothing from
    the process's own work, and runs `checks` on the process's event loop, so that a stuck loop is seen."""
    if port is None:
        yield None
        return
    loop = asyncio.get_running_loop()

    def ask(checks_now: Checks) -> dict[str, str]:
        return asyncio.run_coroutine_threadsafe(checks_now(), loop).result(timeout=REPORT_TIMEOUT_SECONDS * 2)

    async def alive() -> dict[str, str]:
        return {"event_loop": "ok"}

    class Probe(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            route = {"/healthz": (alive, "ok"), "/readyz": (checks, "ready")}.get(self.path.split("?")[0])
            if route is None:
                self._answer(404, {"status": "not found"})
                return
            probe, good = route
            try:
                results = ask(probe)
            except Exception as exc:  # noqa: BLE001 - the loop did not answer in time, or the check crashed
                self._answer(503, {"status": "not " + good, "checks": {"event_loop": type(exc).__name__}})
                return
            ok = all(value == "ok" for value in results.values())
            self._answer(200 if ok else 503, {"status": good if ok else "not " + good, "checks": results})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - probes every few seconds: quiet
            logger.debug("probe: " + format, *args)

    server = ThreadingHTTPServer((host, port), Probe)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="health-probes", daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
