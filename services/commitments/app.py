"""The commitments service's FastAPI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from services.commitments.auth.router import router as auth_router
from services.commitments.auth.service import PrincipalCache
from services.commitments.config import CommitmentsSettings
from services.commitments.contacts.router import router as contacts_router
from services.commitments.database import outbox_aware_sessionmaker, read_sessionmaker
from services.commitments.deadlines.router import router as deadlines_router
from services.commitments.idempotency.middleware import IdempotencyMiddleware
from services.commitments.items.router import router as items_router
from services.commitments.journal.router import router as journal_router
from services.commitments.outbox.relay import OutboxRelay, ping_relays
from services.commitments.partners.router import router as partners_router
from services.commitments.partners.service import GroupCache
from services.commitments.plans.router import router as plans_router
from services.commitments.reminders.router import router as reminders_router
from services.commitments.recipients.router import router as recipients_router
from shared.bus import StreamSpec, connect
from shared.calendar import use_calendar
from shared.clock import Clock, SystemClock
from shared.db import create_engine
from shared.events import EventEnvelope
from shared.events.commitments import ApiKeyRevoked
from shared.health import add_health_routes
from shared.http_limits import BodySizeLimit
from shared.problems import install_problem_handlers
from shared.telemetry import setup_tracing

logger = logging.getLogger(__name__)

DESCRIPTION = """Suivi des demandes de la ville à ses partenaires et de ses propres engagements.

Authentification : `Authorization: Bearer <clé d'API>`. Rôles : `admin`, `city`, `partner` (ne voit que
les éléments de son organisation), `reader` (lecture seule). Erreurs au format RFC 9457
(`application/problem+json`). `Idempotency-Key` accepté sur tout POST ; `If-Match` sur les modifications.
"""


@dataclass
class BusState:
    """The NATS connection, established in the background so the API serves (and says it is not ready)
    while NATS is away."""

    client: NatsClient | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    pings: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected


def create_app(settings: CommitmentsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or CommitmentsSettings()
    clock = clock or SystemClock()
    use_calendar(settings.working_calendar())
    if settings.tracing_enabled:
        setup_tracing(settings.otel_service_name or "commitments", settings.otel_exporter_otlp_endpoint)
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    stream = StreamSpec(settings.events_stream, settings.events_subject_prefix,
                        settings.events_duplicate_window_seconds)
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

        async def forget_revoked_key(message: Msg) -> None:
            # Another replica revoked a key: stop honouring it here now rather than when the cache expires.
            try:
                event = EventEnvelope.model_validate_json(message.data).parsed()
            except (ValueError, KeyError):
                logger.warning("unreadable api_key.revoked message ignored")
                return
            if isinstance(event, ApiKeyRevoked):
                app.state.principal_cache.forget_key(event.key_id)

        async def keep_connected() -> None:
            while bus.client is None and not stop.is_set():
                try:
                    bus.client = await connect(settings.nats_url, name="commitments-api")
                except Exception as exc:  # noqa: BLE001 - any failure: retry, /readyz says why
                    logger.warning("NATS unreachable at %s (%s); retrying", settings.nats_url, exc)
                    await asyncio.sleep(2.0)
            if bus.client is not None:
                await bus.client.subscribe(stream.subject_for(ApiKeyRevoked.type), cb=forget_revoked_key)
            if settings.relay_in_process and bus.client is not None:
                relay = OutboxRelay(sessionmaker, bus.client, stream, clock, batch_size=settings.relay_batch_size,
                                    poll_seconds=settings.relay_poll_seconds)
                relay_holder["relay"] = relay
                app.state.relay = relay
                await relay.run(stop)

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
                except Exception:  # a crashed relay must not turn a clean shutdown into an error
                    logger.exception("background task failed")
            if bus.client is not None:
                with contextlib.suppress(Exception):
                    await bus.client.drain()
            await engine.dispose()

    app = FastAPI(title="Engagements — service des engagements", version="1.0.0", description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.read_sessionmaker = read_sessionmaker(engine)
    app.state.stream = stream
    app.state.bus = bus
    app.state.principal_cache = PrincipalCache(ttl_seconds=settings.principal_cache_seconds)
    app.state.group_cache = GroupCache(ttl_seconds=settings.principal_cache_seconds)
    install_problem_handlers(app)
    for router in (auth_router, partners_router, contacts_router, plans_router, items_router, deadlines_router,
                   journal_router, recipients_router, reminders_router):
        app.include_router(router)

    add_health_routes(app, engine, lambda: bus.connected)

    app.add_middleware(IdempotencyMiddleware, sessionmaker=sessionmaker, clock=clock)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.tracing_enabled:
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app
