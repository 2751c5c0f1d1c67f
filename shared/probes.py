"""/healthz and /readyz for a process without an API (the relay, the scanner, the consumers), on a port of its
own (HEALTH_PORT), for orchestrators: alive while its event loop answers, ready while what it needs answers.
The same port serves the process's Prometheus metrics (/metrics, shared/metrics.py).

Kept apart from shared/health.py so that these processes need not import FastAPI to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from shared.metrics import Hook, MetricsExposition

logger = logging.getLogger(__name__)

Checks = Callable[[], Coroutine[Any, Any, dict[str, str]]]
# A report that cannot be had within this is "unavailable", and a probe that cannot be answered within it fails.
REPORT_TIMEOUT_SECONDS = 2.0


async def database_check(engine: AsyncEngine) -> str:
    """ "ok" when the database answers a trivial query, else why not."""
    try:
        async with asyncio.timeout(REPORT_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - whatever it is, the database is not answering, and this says why
        return f"unreachable: {type(exc).__name__}"
    return "ok"


@contextlib.contextmanager
def serve_probes(
    port: int | None, checks: Checks, host: str = "0.0.0.0", metrics: MetricsExposition | None = None
) -> Iterator[int | None]:
    """/healthz and /readyz on `port` for a process without an API (relay, scanner, consumers), while the
    block runs; no port, no probes. Ready when every check says "ok"; alive while the event loop answers.
    /metrics: the process's metrics, `metrics`' hooks run on the event loop first.

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

    exposition = metrics or MetricsExposition()

    class Probe(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            path = self.path.split("?")[0]
            if path == "/metrics":
                self._metrics()
                return
            route = {"/healthz": (alive, "ok"), "/readyz": (checks, "ready")}.get(path)
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

        def _metrics(self) -> None:
            try:
                payload = asyncio.run_coroutine_threadsafe(exposition.render(), loop).result(
                    timeout=REPORT_TIMEOUT_SECONDS * (len(exposition.hooks) + 1)
                )
            except Exception as exc:  # noqa: BLE001 - the loop did not answer in time
                self._answer(
                    503, {"status": "metrics unavailable", "checks": {"event_loop": type(exc).__name__}}
                )
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - probes every few seconds: quiet
            logger.debug("probe: " + format, *args)  # noqa: G003 - http.server hands its own %-template and args

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


@contextlib.asynccontextmanager
async def worker_probes(
    port: int | None,
    database_url: str,
    nats: Callable[[], Any] | None = None,
    metrics_hooks: list[Hook] | None = None,
) -> AsyncIterator[int | None]:
    """`serve_probes` for a worker process: ready while its database answers (asked on a connection of the
    probes' own) and, for a worker that needs NATS (`nats` gives its client, None until connected), while NATS
    is connected; its metrics, with `metrics_hooks` (a list the worker may fill once it has started). No port,
    nothing at all."""
    if port is None:
        yield None
        return
    engine = create_engine(database_url, pool_size=1)

    async def checks() -> dict[str, str]:
        results = {"database": await database_check(engine)}
        if nats is not None:
            client = nats()
            results["nats"] = "ok" if client is not None and client.is_connected else "unreachable"
        return results

    try:
        with serve_probes(
            port, checks, metrics=MetricsExposition(metrics_hooks if metrics_hooks is not None else [])
        ) as bound:
            yield bound
    finally:
        await engine.dispose()
