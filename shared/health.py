"""`/healthz` (the process is alive) and `/readyz` (it can do its work) of an API, for orchestrators and load
balancers.

Readiness reflects what a process needs in order to serve. An API needs its database: a NATS outage does not
take it out of rotation (the commitments service's outbox keeps the events), so NATS and the relay's lag are
reported beside the verdict, as information. The relay and the consumers need NATS: they are not ready without
it. Those have no API; shared/probes.py gives them the same two routes on a port of their own (HEALTH_PORT).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.probes import REPORT_TIMEOUT_SECONDS, database_check

Info = Callable[[], Awaitable[Any]]

_READY = {
    "status": "ready",
    "checks": {"database": "ok"},
    "info": {"nats": "unreachable", "outbox": {"unpublished": 12, "oldest_unpublished_seconds": 41.5}},
}
_NOT_READY = {
    "status": "not ready",
    "checks": {"database": "unreachable: ConnectionRefusedError"},
    "info": {"nats": "connected"},
}


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

    @app.get(
        "/healthz",
        tags=["Operations"],
        responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
    )
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["Operations"],
        responses={
            200: {"content": {"application/json": {"example": _READY}}},
            503: {"content": {"application/json": {"example": _NOT_READY}}},
        },
    )
    async def readyz() -> JSONResponse:
        """Ready (200) while the database answers, 503 otherwise; NATS and the like are reported, not required."""
        checks = {"database": await database_check(engine)}
        ready = all(value == "ok" for value in checks.values())
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
        if reports:
            values = await asyncio.gather(*(_report(report) for report in reports.values()))
            body["info"] = dict(zip(reports, values, strict=True))
        return JSONResponse(body, status_code=200 if ready else 503)
