"""The notifications service's FastAPI application: deliveries, preferences (and, from their packages,
signed action pages and webhook subscriptions)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from services.notifications.actions.router import router as actions_router
from services.notifications.auth.service import KeyVerifier
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries.router import router as deliveries_router
from services.notifications.preferences.router import router as preferences_router
from services.notifications.webhooks.router import router as webhooks_router
from shared.bus import StreamSpec, connect
from shared.calendar import use_calendar
from shared.clock import Clock, SystemClock
from shared.db import create_engine, create_sessionmaker, read_sessionmaker
from shared.events import EventEnvelope
from shared.events.commitments import ApiKeyRevoked
from shared.health import add_health_routes
from shared.http_limits import BodySizeLimit
from shared.problems import install_problem_handlers
from shared.telemetry import setup_tracing

logger = logging.getLogger(__name__)

DESCRIPTION = """Rappels d'échéances par courriel et webhooks signés, à partir des événements du service des engagements.

Authentification : `Authorization: Bearer <clé d'API>`, les mêmes clés que le service des engagements (rôles
`admin`, `city`, `partner` — ne voit que les envois de son organisation —, `reader`, `service`). Erreurs au format
RFC 9457 (`application/problem+json`).
"""


@dataclass
class BusState:
    """The NATS connection, established in the background so the API serves (and says it is not ready)
    while NATS is away."""

    client: NatsClient | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected


def commitments_http(settings: NotificationsSettings) -> httpx.AsyncClient:
    """An HTTP client based at the commitments service."""
    return httpx.AsyncClient(base_url=settings.commitments_url, timeout=settings.commitments_timeout_seconds)


def create_app(settings: NotificationsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    clock = clock or SystemClock()
    use_calendar(settings.working_calendar())
    if settings.tracing_enabled:
        setup_tracing(settings.otel_service_name or "notifications", settings.otel_exporter_otlp_endpoint)
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    stream = StreamSpec(settings.events_stream, settings.events_subject_prefix,
                        settings.events_duplicate_window_seconds)
    bus = BusState()
    http = commitments_http(settings)
    key_verifier = KeyVerifier(http, ttl_seconds=settings.principal_cache_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()

        async def forget_revoked_key(message: Msg) -> None:
            # A key was revoked: stop honouring it here now rather than when the cache expires.
            try:
                event = EventEnvelope.model_validate_json(message.data).parsed()
            except (ValueError, KeyError):
                logger.warning("unreadable api_key.revoked message ignored")
                return
            if isinstance(event, ApiKeyRevoked):
                key_verifier.forget_key(event.key_id)

        async def keep_connected() -> None:
            while bus.client is None and not stop.is_set():
                try:
                    bus.client = await connect(settings.nats_url, name="notifications-api")
                except Exception as exc:  # noqa: BLE001 - any failure: retry, /readyz says why
                    logger.warning("NATS unreachable at %s (%s); retrying", settings.nats_url, exc)
                    await asyncio.sleep(2.0)
            if bus.client is not None:
                await bus.client.subscribe(stream.subject_for(ApiKeyRevoked.type), cb=forget_revoked_key)

        bus.tasks.append(asyncio.create_task(keep_connected()))
        try:
            yield
        finally:
            stop.set()
            for task in bus.tasks:
                try:
                    await asyncio.wait_for(task, timeout=5)
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    pass
                except Exception:  # a crashed background task must not turn a clean shutdown into an error
                    logger.exception("background task failed")
            if bus.client is not None:
                with contextlib.suppress(Exception):
                    await bus.client.drain()
            await http.aclose()
            await engine.dispose()

    app = FastAPI(title="Engagements — service des notifications", version="1.0.0", description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.read_sessionmaker = read_sessionmaker(engine)
    app.state.stream = stream
    app.state.bus = bus
    app.state.commitments_http = http
    app.state.key_verifier = key_verifier
    install_problem_handlers(app)
    # Other packages register their routers here, one line each.
    for router in (deliveries_router, preferences_router, webhooks_router, actions_router):
        app.include_router(router)

    add_health_routes(app, engine, lambda: bus.connected)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.tracing_enabled:
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app
