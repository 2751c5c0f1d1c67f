"""/healthz and /readyz of an API: ready while its database answers, with what it only reports (NATS …) beside
the verdict."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from shared.db import create_engine
from shared.health import add_health_routes, nats_state


async def _get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get(path)


async def test_ready_while_the_database_answers_whatever_nats_does(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'health.db'}")
    nats = {"connected": False}

    async def nats_report() -> str:
        return nats_state(nats["connected"])

    async def broken_report() -> str:
        raise RuntimeError("no figure today")

    app = FastAPI()
    add_health_routes(app, engine, {"nats": nats_report, "lag": broken_report})
    try:
        assert (await _get(app, "/healthz")).json() == {"status": "ok"}
        without_nats = await _get(app, "/readyz")
        assert without_nats.status_code == 200
        assert without_nats.json() == {
            "status": "ready",
            "checks": {"database": "ok"},
            "info": {"nats": "unreachable", "lag": "unavailable: RuntimeError"},
        }
        nats["connected"] = True
        assert (await _get(app, "/readyz")).json()["info"]["nats"] == "connected"
    finally:
        await engine.dispose()


async def test_not_ready_when_the_database_is_away() -> None:
    engine = create_engine("postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1
    app = FastAPI()
    add_health_routes(app, engine)
    try:
        response = await _get(app, "/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["database"].startswith("unreachable: ")
        assert (await _get(app, "/healthz")).status_code == 200  # alive all the same
    finally:
        await engine.dispose()
