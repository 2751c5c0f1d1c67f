"""shared/metrics.py over real HTTP: an app's requests counted and timed by route template, method and status (an
unmatched path under one label, an error as 500), scrape-time gauges read by hooks (a failing hook counted, not
failing the scrape), and a worker's /metrics on its probes' port; parsed with prometheus_client's parser."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import Gauge

from shared.metrics import UNMATCHED, install_metrics
from shared.probes import serve_probes
from tests.ports import free_port
from tests.scraped_metrics import samples, value

# A gauge of these tests alone, set by their hooks.
READING = Gauge("engagements_test_reading", "A value read at scrape time (tests only).", ["test"])


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def service() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"  # its own series, whatever other tests of the process counted


def _app(service: str, hooks: list) -> FastAPI:  # type: ignore[type-arg]
    app = FastAPI()

    @app.get("/v1/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.post("/v1/items")
    async def broken() -> None:
        raise RuntimeError("a bug")

    install_metrics(app, service, hooks)
    return app


async def test_requests_are_counted_and_timed_by_route_template(service: str) -> None:
    async def reading() -> None:
        READING.labels(service).set(42)

    async with served(_app(service, [reading])) as url, httpx.AsyncClient(base_url=url) as client:
        for item_id in (1, 2, 3):
            assert (await client.get(f"/v1/items/{item_id}")).status_code == 200
        assert (await client.get("/v1/items/not-a-number")).status_code == 422
        assert (await client.get(f"/nowhere/{uuid.uuid4()}")).status_code == 404
        assert (await client.post("/v1/items")).status_code == 500
        scrape = await client.get("/metrics")
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    scraped = samples(scrape.text)
    requests = "engagements_http_requests_total"
    route = "/v1/items/{item_id}"
    assert value(scraped, requests, service=service, route=route, method="GET", status="200") == 3
    assert value(scraped, requests, service=service, route=route, method="GET", status="422") == 1
    assert value(scraped, requests, service=service, route=UNMATCHED, method="GET", status="404") == 1
    assert value(scraped, requests, service=service, route="/v1/items", method="POST", status="500") == 1
    # No series per raw path: any client could otherwise create series at will.
    assert not any(dict(labels).get("route", "").startswith("/nowhere") for _, labels in scraped)
    duration = "engagements_http_request_duration_seconds"
    assert value(scraped, f"{duration}_count", service=service, route=route, method="GET") == 4
    total = value(scraped, f"{duration}_sum", service=service, route=route, method="GET")
    assert 0 < total < 60  # four small requests: plausible, not a timing assertion
    assert value(scraped, f"{duration}_bucket", service=service, route=route, method="GET", le="+Inf") == 4
    assert value(scraped, "engagements_test_reading", test=service) == 42  # read at scrape time


async def test_a_failing_reading_is_counted_and_the_scrape_goes_on(service: str) -> None:
    async def broken() -> None:
        raise ConnectionError("the database is away")

    async def reading() -> None:
        READING.labels(service).set(7)

    async with served(_app(service, [broken, reading])) as url, httpx.AsyncClient(base_url=url) as client:
        before = samples((await client.get("/metrics")).text)
        after = samples((await client.get("/metrics")).text)
    errors = "engagements_metrics_hook_errors_total"
    assert value(after, errors) - value(before, errors) == 1  # the second scrape's failure
    assert value(after, "engagements_test_reading", test=service) == 7  # the other reading still happened
    # The first scrape is itself a request to /metrics, counted under its own route.
    assert (
        value(
            after,
            "engagements_http_requests_total",
            service=service,
            route="/metrics",
            method="GET",
            status="200",
        )
        == 1
    )


@contextlib.contextmanager
def probes_with(hooks: list, port: int) -> Iterator[int | None]:  # type: ignore[type-arg]
    from shared.metrics import MetricsExposition

    async def ok() -> dict[str, str]:
        return {"database": "ok"}

    with serve_probes(port, ok, host="127.0.0.1", metrics=MetricsExposition(hooks)) as bound:
        yield bound


async def test_a_worker_serves_its_metrics_on_its_probes_port(service: str) -> None:
    async def reading() -> None:
        READING.labels(service).set(3)

    with probes_with([reading], free_port()) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            scrape = await client.get("/metrics")
            ready = await client.get("/readyz")
    assert scrape.status_code == 200 and ready.status_code == 200
    scraped = samples(scrape.text)
    assert value(scraped, "engagements_test_reading", test=service) == 3
    assert any(name == "process_cpu_seconds_total" for name, _ in scraped)  # the process collector, on Linux
