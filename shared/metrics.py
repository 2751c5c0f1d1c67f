"""Prometheus metrics of every process (prometheus-client): what each one counts, and how it is exposed.

    install_metrics(app, "reporting", hooks)     an API: GET /metrics, and every request counted and timed
    serve_probes(port, checks, metrics)          a worker: /metrics beside /healthz and /readyz (HEALTH_PORT)

Counters and histograms are updated where things happen (a request answered, an event consumed, a reminder
sent); gauges that describe a state someone else changes (the outbox's lag, a consumer's backlog) are read at
scrape time by `hooks`, async functions run on the process's event loop before each exposition (a hook that
fails or hangs leaves its gauges as they were and is counted in engagements_metrics_hook_errors_total).

One process, one set of metrics: every service runs a single uvicorn process (`serve` calls uvicorn.run with the
app object, no workers), and scales by replicas, each scraped on its own. prometheus-client's multiprocess mode
is therefore not used (it would also forbid the callback gauges read here). Metric names and meanings are
listed in docs/operations.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

logger = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]
ASGIApp = Callable[
    [dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
    Awaitable[None],
]

# A hook that takes longer than this is abandoned for this scrape (Prometheus's own timeout is 10 s by default).
HOOK_TIMEOUT_SECONDS = 2.0
# The route label of a request no route matched: its path would let any client create series at will.
UNMATCHED = "<unmatched>"

HTTP_REQUESTS = Counter(
    "engagements_http_requests",
    "HTTP requests answered, by service, route template, method and status.",
    ["service", "route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "engagements_http_request_duration_seconds",
    "Time from a request's arrival to its response's last byte, by service, route template and method.",
    ["service", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

OUTBOX_UNPUBLISHED = Gauge(
    "engagements_outbox_unpublished_events",
    "Events written to an outbox and not yet published, by stream.",
    ["stream"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "engagements_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest event not yet published (0 when none waits), by stream.",
    ["stream"],
)
OUTBOX_PUBLISHED = Counter(
    "engagements_outbox_published_events", "Events a relay of this process published, by stream.", ["stream"]
)
OUTBOX_DUPLICATES = Counter(
    "engagements_outbox_duplicate_events",
    "Publishes JetStream dropped as already in the stream (a re-publish after a crash), by stream.",
    ["stream"],
)

EVENTS_CONSUMED = Counter(
    "engagements_events_consumed",
    "Events a consumer of this process handled and acknowledged, by durable consumer and event type.",
    ["consumer", "type"],
)
CONSUMER_PENDING = Gauge(
    "engagements_consumer_pending_messages",
    "Messages of the stream a durable consumer has not been delivered yet (JetStream num_pending).",
    ["consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "engagements_consumer_ack_pending_messages",
    "Messages delivered to a durable consumer and not acknowledged yet (JetStream num_ack_pending).",
    ["consumer"],
)

REPORTING_EVENTS_SKIPPED = Counter(
    "engagements_reporting_events_skipped",
    "Events the reporting projector could not apply because they name an item or deadline its tables do not "
    "know (an event ahead of the one creating it: the read model then differs from the source), by event type.",
    ["type"],
)

HOOK_ERRORS = Counter(
    "engagements_metrics_hook_errors", "Scrape-time readings that failed or timed out (their gauges kept)."
)


@dataclass
class MetricsExposition:
    """What GET /metrics answers: the registry's text format, after the scrape-time hooks have run."""

    hooks: list[Hook] = field(default_factory=list)
    registry: CollectorRegistry = REGISTRY

    async def refresh(self) -> None:
        for hook in self.hooks:
            try:
                async with asyncio.timeout(HOOK_TIMEOUT_SECONDS):
                    await hook()
            except Exception:
                HOOK_ERRORS.inc()
                logger.warning("a metrics reading failed", exc_info=True)

    async def render(self) -> bytes:
        await self.refresh()
        return generate_latest(self.registry)


def route_template(scope: dict[str, Any]) -> str:
    """The matched route's template (`/v1/deliveries/{delivery_id}`), never the raw path: the `route` the router
    puts in the ASGI scope (FastAPI does for its routes; a request no route matched has none)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class HttpMetrics:
    """Pure ASGI middleware counting and timing every HTTP request by route template, method and status. Add it
    last (outermost), so that it sees the answers of the other middlewares too (413, 503)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before starting a response

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = route_template(scope)
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(self.service, route, method, str(status)).inc()
            HTTP_DURATION.labels(self.service, route, method).observe(time.perf_counter() - started)


def install_metrics(app: Any, service: str, hooks: Iterable[Hook] = ()) -> MetricsExposition:
    """GET /metrics on a FastAPI app and the request metrics of `service`; call it after adding the app's other
    middlewares. Returns the exposition (its `hooks` may be added to later)."""
    from starlette.responses import Response

    exposition = MetricsExposition(list(hooks))

    async def metrics() -> Response:
        return Response(await exposition.render(), media_type=CONTENT_TYPE_LATEST)

    # A FastAPI route (not a bare Starlette one): FastAPI then names the matched route in the scope, as for
    # every other endpoint.
    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False, response_class=Response)
    app.add_middleware(HttpMetrics, service=service)
    app.state.metrics = exposition
    return exposition


def outbox_lag_hook(stream: str, lag: Callable[[], Awaitable[dict[str, float | int]]]) -> Hook:
    """A hook setting the outbox gauges of `stream` from `lag` (shared/outbox/relay.py: outbox_lag)."""

    async def read() -> None:
        values = await lag()
        OUTBOX_UNPUBLISHED.labels(stream).set(values["unpublished"])
        OUTBOX_OLDEST_AGE.labels(stream).set(values["oldest_unpublished_seconds"])

    return read


def count_consumed(consumer: str, subject_prefix: str, subjects: Iterable[str]) -> None:
    """Count events a consumer acknowledged, by type (the subject after the stream's prefix)."""
    for subject in subjects:
        EVENTS_CONSUMED.labels(consumer, subject.removeprefix(f"{subject_prefix}.")).inc()


def consumer_lag_hook(consumer: str, info: Callable[[], Awaitable[Any]]) -> Hook:
    """A hook setting a durable consumer's backlog gauges from its JetStream consumer info (`info` gives it, or
    None while the consumer is not subscribed yet)."""

    async def read() -> None:
        current = await info()
        if current is None:
            return
        CONSUMER_PENDING.labels(consumer).set(current.num_pending)
        CONSUMER_ACK_PENDING.labels(consumer).set(current.num_ack_pending)

    return read
