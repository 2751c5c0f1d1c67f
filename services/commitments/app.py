"""The commitments service's FastAPI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from services.commitments.auth.router import router as auth_router
from services.commitments.auth.service import KeyAuthenticator, PrincipalCache
from services.commitments.config import CommitmentsSettings
from services.commitments.contacts.router import router as contacts_router
from services.commitments.database import outbox_aware_sessionmaker, read_sessionmaker
from services.commitments.deadlines.router import router as deadlines_router
from services.commitments.idempotency.middleware import IdempotencyMiddleware
from services.commitments.items.router import router as items_router
from services.commitments.journal.router import router as journal_router
from services.commitments.outbox.relay import OutboxRelay, outbox_lag, ping_relays
from services.commitments.partners.router import router as partners_router
from services.commitments.partners.service import GroupCache
from services.commitments.plans.router import router as plans_router
from services.commitments.recipients.router import router as recipients_router
from services.commitments.reminders.router import router as reminders_router
from services.commitments.subscriptions import install as install_subscriptions
from shared.admission import Admission, AdmissionControl
from shared.api_docs import create_api
from shared.bus import BusState, follow_key_revocations
from shared.calendar import use_calendar
from shared.clock import Clock, SystemClock
from shared.db import create_engine
from shared.health import add_health_routes, nats_state
from shared.http_limits import BodySizeLimit
from shared.metrics import install_metrics, outbox_lag_hook
from shared.problems import install_problem_handlers
from shared.telemetry import setup_tracing

logger = logging.getLogger(__name__)

DESCRIPTION = """Suivi des demandes de la ville à ses partenaires et de ses propres engagements.

Authentification : `Authorization: Bearer <clé d'API>`. Rôles : `admin`, `city`, `partner` (ne voit que
les éléments de son organisation), `reader` (lecture seule). Erreurs au format RFC 9457
(`application/problem+json`). `Idempotency-Key` accepté sur tout POST (même clé et même requête : la première
réponse rejouée ; pendant qu'elle est en cours : 409 avec `Retry-After`, à renvoyer avec la même clé) ;
`If-Match` sur les modifications.
"""


def create_app(settings: CommitmentsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or CommitmentsSettings()
    clock = clock or SystemClock()
    use_calendar(settings.working_calendar())
    install_subscriptions()
    if settings.tracing_enabled:
        setup_tracing(settings.otel_service_name or "commitments", settings.otel_exporter_otlp_endpoint)
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout_seconds=settings.database_pool_timeout_seconds,
    )
    stream = settings.commitments_stream()
    bus = BusState()
    relay_holder: dict[str, OutboxRelay] = {}

    def on_outbox_commit() -> None:
        relay = relay_holder.get("relay")
        if relay is not None:
            relay.wake()
        elif bus.client is not None:
            # Keep a reference: the event loop holds tasks weakly, an unreferenced one may vanish unrun.
            task = asyncio.get_running_loop().create_task(ping_relays(bus.client, stream))
            bus.pings.add(task)
            task.add_done_callback(bus.pings.discard)

    sessionmaker = outbox_aware_sessionmaker(engine, on_outbox_commit)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()

        async def keep_connected() -> None:
            if not await bus.connect_until(settings.nats_url, "commitments-api", stop):
                return
            assert bus.client is not None
            # Another replica revoked a key: stop honouring it here now rather than when the cache expires.
            await follow_key_revocations(bus.client, stream, app.state.principal_cache.forget_key)
            if settings.relay_in_process:
                relay = OutboxRelay(
                    sessionmaker,
                    bus.client,
                    stream,
                    clock,
                    batch_size=settings.relay_batch_size,
                    poll_seconds=settings.relay_poll_seconds,
                )
                relay_holder["relay"] = relay
                app.state.relay = relay
                await relay.run(stop)

        bus.tasks.append(asyncio.create_task(keep_connected()))
        try:
            yield
        finally:
            stop.set()
            await bus.close()
            await engine.dispose()

    app = create_api(
        title="Engagements — service des engagements",
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
    app.state.principal_cache = PrincipalCache(
        ttl_seconds=settings.principal_cache_seconds,
        refusal_ttl_seconds=settings.principal_refusal_cache_seconds,
    )
    app.state.authenticator = KeyAuthenticator(app.state.principal_cache)
    app.state.group_cache = GroupCache(ttl_seconds=settings.principal_cache_seconds)
    install_problem_handlers(app)
    for router in (
        auth_router,
        partners_router,
        contacts_router,
        plans_router,
        items_router,
        deadlines_router,
        journal_router,
        recipients_router,
        reminders_router,
    ):
        app.include_router(router)

    admission = Admission(settings.in_flight_limit, settings.request_queue_timeout_seconds)
    app.state.admission = admission

    async def nats() -> str:
        return nats_state(bus.connected)

    async def outbox() -> dict[str, float | int]:
        return await outbox_lag(sessionmaker, clock)

    async def load() -> dict[str, int]:
        return admission.report()

    # Ready while the database answers: during a NATS outage the outbox keeps the events, and its lag says so.
    add_health_routes(app, engine, {"nats": nats, "outbox": outbox, "admission": load})

    app.add_middleware(
        IdempotencyMiddleware,
        sessionmaker=sessionmaker,
        clock=clock,
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
    )
    # The last added runs first: a request meets the body-size limit, then admission (which reads the body
    # the limit let through), then the rest.
    app.add_middleware(AdmissionControl, admission=admission)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Outermost: every request is counted, those the limits above turn away too. GET /metrics (Prometheus).
    install_metrics(app, "commitments", [outbox_lag_hook(stream.name, outbox)])
    if settings.tracing_enabled:
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app
