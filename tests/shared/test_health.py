"""/healthz and /readyz: ready only while the database answers and NATS is connected, saying which is not."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from shared.db import create_engine
from shared.health import add_health_routes


async def _get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get(path)


async def test_ready_only_with_database_and_nats(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'health.db'}")
    nats = {"connected": False}
    app = FastAPI()
    add_health_routes(app, engine, lambda: nats["connected"])
    try:
        assert (await _get(app, "/healthz")).json() == {"status": "ok"}
        waiting = await _get(app, "/readyz")
        assert waiting.status_code == 503
        assert waiting.json() == {"status": "not ready", "checks": {"database": "ok", "nats": "unreachable"}}
        nats["connected"] = True
        ready = await _get(app, "/readyz")
        assert (ready.status_code, ready.json()["status"]) == (200, "ready")
    finally:
        await engine.dispose()


async def test_not_ready_when_the_database_is_away() -> None:
    engine = create_engine("postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1
    app = FastAPI()
    add_health_routes(app, engine, lambda: True)
    try:
        response = await _get(app, "/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["database"].startswith("unreachable: ")
        assert (await _get(app, "/healthz")).status_code == 200  # alive all the same
    finally:
        await engine.dispose()
