"""`/healthz` (the process is alive) and `/readyz` (it can serve: its database answers, NATS is connected),
the same in every service, for orchestrators and load balancers."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_READY = {"status": "ready", "checks": {"database": "ok", "nats": "ok"}}
_NOT_READY = {"status": "not ready", "checks": {"database": "ok", "nats": "unreachable"}}


def add_health_routes(app: FastAPI, engine: AsyncEngine, nats_connected: Callable[[], bool]) -> None:
    """Serve /healthz and /readyz on `app`."""

    @app.get("/healthz", tags=["Operations"],
             responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["Operations"], responses={
        200: {"content": {"application/json": {"example": _READY}}},
        503: {"content": {"application/json": {"example": _NOT_READY}}}})
    async def readyz() -> JSONResponse:
        """Ready when the database answers and NATS is connected (503 otherwise)."""
        checks = {"database": "ok", "nats": "ok" if nats_connected() else "unreachable"}
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - whatever it is, the service is not ready, and says why
            checks["database"] = f"unreachable: {type(exc).__name__}"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                            status_code=200 if ready else 503)
