"""Probes of a process without an API: /healthz and /readyz on a port of its own, from the checks it gives."""

from __future__ import annotations

import httpx

from shared.probes import serve_probes


async def test_probes_of_a_process_without_an_api() -> None:
    state = {"nats": "unreachable"}

    async def checks() -> dict[str, str]:
        return {"database": "ok", "nats": state["nats"]}

    with serve_probes(0, checks, host="127.0.0.1") as port:
        assert port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            not_ready = await client.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json() == {
                "status": "not ready",
                "checks": {"database": "ok", "nats": "unreachable"},
            }
            state["nats"] = "ok"
            ready = await client.get("/readyz")
            assert (ready.status_code, ready.json()["status"]) == (200, "ready")
            assert (await client.get("/elsewhere")).status_code == 404


async def test_no_port_no_probes() -> None:
    async def checks() -> dict[str, str]:
        return {}

    with serve_probes(None, checks) as port:
        assert port is None
