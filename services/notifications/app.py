"""The notifications service's FastAPI application: deliveries, preferences (and, from their packages,
signed action pages and webhook subscriptions)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from services.notifications.actions.router import router as actions_router
from services.notifications.auth.service import KeyVerifier
from services.notifications.commitments_client import CommitmentsClient
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries.router import router as deliveries_router
from services.notifications.outbox.relay import outbox_lag, ping_relays
from services.notifications.preferences.router import router as preferences_router
from services.notifications.webhooks.router import router as webhooks_router
from shared.admission import Admission, AdmissionControl
from shared.api_docs import create_api
from shared.bus import BusState, follow_key_revocations
from shared.calendar import use_calendar
from shared.clock import Clock, SystemClock
from shared.db import create_engine, read_sessionmaker
from shared.health import add_health_routes, nats_state
from shared.http_limits import BodySizeLimit
from shared.metrics import install_metrics, outbox_lag_hook
from shared.outbox.session import outbox_aware_sessionmaker
from shared.problems import install_problem_handlers
from shared.telemetry import setup_tracing

logger = logging.getLogger(__name__)

DESCRIPTION = """Rappels d'échéances par courriel et webhooks signés, à partir des événements du service des engagements.

Authentification : `Authorization: Bearer <clé d'API>`, les mêmes clés que le service des engagements (rôles
`admin`, `city`, `partner` — ne voit que les envois de son organisation —, `reader`, `service`). Erreurs au format
RFC 9457 (`application/problem+json`).
"""


def create_app(settings: NotificationsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    clock = clock or SystemClock()
    use_calendar(settings.working_calendar())
    if settings.tracing_enabled:
        setup_tracing(settings.otel_service_name or "notifications", settings.otel_exporter_otlp_endpoint)
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout_seconds=settings.database_pool_timeout_seconds,
    )
    stream = settings.commitments_stream()
    own_stream = settings.notifications_stream()
    bus = BusState()

    def on_outbox_commit() -> None:
        # The relay runs in the worker (or on its own): wake it over NATS (it polls anyway).
        if bus.client is not None:
            # Keep a reference: the event loop holds tasks weakly, an unreferenced one may vanish unrun.
            task = asyncio.get_running_loop().create_task(ping_relays(bus.client, own_stream))
            bus.pings.add(task)
            task.add_done_callback(bus.pings.discard)

    sessionmaker = outbox_aware_sessionmaker(engine, on_outbox_commit)
    # One client of the commitments service for the whole process (key checks, contacts, action pages).
    commitments = CommitmentsClient.from_settings(settings)
    key_verifier = KeyVerifier(
        commitments,
        ttl_seconds=settings.principal_cache_seconds,
        refusal_ttl_seconds=settings.principal_refusal_cache_seconds,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()

        async def keep_connected() -> None:
            if await bus.connect_until(settings.nats_url, "notifications-api", stop):
                assert bus.client is not None
                # A key was revoked: stop honouring it here now rather than when the cache expires.
                await follow_key_revocations(bus.client, stream, key_verifier.forget_key)

        bus.tasks.append(asyncio.create_task(keep_connected()))
        try:
            yield
        finally:
            stop.set()
            await bus.close()
            await commitments.aclose()
            await engine.dispose()

    app = create_api(
        title="Engagements — service des notifications",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.read_sessionmaker = read_sessionmaker(engine)
    app.state.stream = stream
    app.state.bus = bus
    app.state.commitments = commitments
    app.state.key_verifier = key_verifier
    install_problem_handlers(app)
    # Other packages register their routers here, one line each.
    for router in (deliveries_router, preferences_router, webhooks_router, actions_router):
        app.include_router(router)

    admission = Admission(settings.in_flight_limit, settings.request_queue_timeout_seconds)
    app.state.admission = admission

    async def nats() -> str:
        return nats_state(bus.connected)

    async def load() -> dict[str, int]:
        return admission.report()

    async def outbox() -> dict[str, float | int]:
        return await outbox_lag(sessionmaker, clock)

    # Ready while its database answers: the API needs NATS only to hear of revoked keys sooner than the cache
    # expires. The consumers need NATS, and say so on their own probes (HEALTH_PORT of `consume`). The outbox's
    # lag says whether the relay keeps up.
    add_health_routes(app, engine, {"nats": nats, "outbox": outbox, "admission": load})

    # The last added runs first: a request meets the body-size limit, then admission (which reads the body
    # the limit let through), then the rest.
    app.add_middleware(AdmissionControl, admission=admission)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Outermost: every request is counted, those the limits above turn away too. GET /metrics (Prometheus).
    install_metrics(app, "notifications", [outbox_lag_hook(own_stream.name, outbox)])
    if settings.tracing_enabled:
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app
