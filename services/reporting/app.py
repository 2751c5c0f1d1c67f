"""The reporting service's FastAPI application: the reports (REST /v1/reports), read from the service's own
read model, which the projector fills from the events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from services.reporting.calendar.router import router as calendar_router
from services.reporting.commitments_client import CommitmentsClient
from services.reporting.config import ReportingSettings
from services.reporting.exports.router import router as exports_router
from services.reporting.pages.revocations import follow_revoked_keys
from services.reporting.pages.router import router as pages_router
from services.reporting.pages.router import static_files as pages_static_files
from services.reporting.pages.sessions import Sessions
from services.reporting.reports.router import router as reports_router
from shared.admission import Admission, AdmissionControl
from shared.api_docs import create_api
from shared.bus import BusState, follow_key_revocations
from shared.calendar import use_calendar
from shared.clock import Clock, SystemClock
from shared.db import create_engine, create_sessionmaker, read_sessionmaker
from shared.health import add_health_routes, nats_state
from shared.http_limits import BodySizeLimit
from shared.key_checks import KeyVerifier
from shared.problems import install_problem_handlers
from shared.telemetry import setup_tracing

logger = logging.getLogger(__name__)

DESCRIPTION = """Tableaux de bord du suivi des engagements : fiche de chaque partenaire, avancement des plans par axe et
objectif, échéances à venir et dépassées, glissements, historique d'un élément. Calculés à partir des événements
des services des engagements et des notifications.

Authentification : `Authorization: Bearer <clé d'API>`, les mêmes clés que le service des engagements (rôles
`admin`, `city`, `reader`, `service` : tout ; `partner` : les chiffres et éléments de son organisation seulement).
Erreurs au format RFC 9457 (`application/problem+json`).
"""


def create_app(settings: ReportingSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ReportingSettings()
    clock = clock or SystemClock()
    use_calendar(settings.working_calendar())
    if settings.tracing_enabled:
        setup_tracing(settings.otel_service_name or "reporting", settings.otel_exporter_otlp_endpoint)
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout_seconds=settings.database_pool_timeout_seconds,
    )
    stream = settings.commitments_stream()
    bus = BusState()
    # One client of the commitments service for the whole process (key checks).
    commitments = CommitmentsClient.from_settings(settings)
    key_verifier = KeyVerifier(
        commitments,
        ttl_seconds=settings.principal_cache_seconds,
        refusal_ttl_seconds=settings.principal_refusal_cache_seconds,
    )
    page_sessions = Sessions.from_settings(settings)

    def forget_key(key_id: uuid.UUID) -> None:
        key_verifier.forget_key(key_id)
        page_sessions.revoke(key_id)  # the intranet page's sessions of that key end too

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()

        async def keep_connected() -> None:
            if await bus.connect_until(settings.nats_url, "reporting-api", stop):
                assert bus.client is not None
                # A key was revoked: stop honouring it here now rather than when the cache expires.
                await follow_key_revocations(bus.client, stream, forget_key)
                await follow_revoked_keys(bus.client, stream, page_sessions, clock.now())

        bus.tasks.append(asyncio.create_task(keep_connected()))
        try:
            yield
        finally:
            stop.set()
            await bus.close()
            await commitments.aclose()
            await engine.dispose()

    app = create_api(
        title="Engagements — service des rapports",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.read_sessionmaker = read_sessionmaker(engine)
    app.state.bus = bus
    app.state.commitments = commitments
    app.state.key_verifier = key_verifier
    app.state.page_sessions = page_sessions
    install_problem_handlers(app)
    app.include_router(reports_router)
    app.include_router(exports_router)
    app.include_router(calendar_router)
    # The intranet page (HTML) and its stylesheet, served by the app itself.
    app.include_router(pages_router)
    app.mount("/tableau-de-bord/static", pages_static_files(), name="pages-static")

    admission = Admission(settings.in_flight_limit, settings.request_queue_timeout_seconds)
    app.state.admission = admission

    async def nats() -> str:
        return nats_state(bus.connected)

    async def load() -> dict[str, int]:
        return admission.report()

    # Ready while its database answers: the API needs NATS only to hear of revoked keys sooner than the cache
    # expires. The projector says how it fares on its own probes (HEALTH_PORT of `project`).
    add_health_routes(app, engine, {"nats": nats, "admission": load})
    app.add_middleware(AdmissionControl, admission=admission)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.tracing_enabled:
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app
