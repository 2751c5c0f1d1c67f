"""The outbox relay as a process of its own (`python -m services.commitments relay`): /healthz and /readyz
on HEALTH_PORT, a NATS connection, then `OutboxRelay` (services/commitments/outbox/relay.py) until
SIGTERM/SIGINT.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from services.commitments.config import CommitmentsSettings
from services.commitments.database import outbox_aware_sessionmaker
from services.commitments.outbox.relay import OutboxRelay, outbox_lag
from shared.clock import SystemClock
from shared.db import create_engine
from shared.metrics import Hook, outbox_lag_hook
from shared.probes import worker_probes
from shared.telemetry import setup_tracing
from shared.worker_process import connect_unless_stopped, stop_on_signals

logger = logging.getLogger("services.commitments.relay")


async def run_relay(
    settings: CommitmentsSettings,
    *,
    before_mark: Callable[[int], Awaitable[None]] | None = None,
    before_publish: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    """Relay until SIGTERM/SIGINT; ready (HEALTH_PORT) while NATS is connected and the database answers, and
    /metrics there (the outbox's lag). `before_publish` and `before_mark` are the relay's hooks once a batch is
    read and before publishing it, and between publishing it and marking it (the crash tests use them)."""
    connection: dict[str, Any] = {}
    hooks: list[Hook] = []
    async with worker_probes(
        settings.health_port, settings.database_url, lambda: connection.get("nats"), hooks
    ):
        await _relay(settings, connection, before_mark, before_publish, hooks)


async def _relay(
    settings: CommitmentsSettings,
    connection: dict[str, Any],
    before_mark: Callable[[int], Awaitable[None]] | None,
    before_publish: Callable[[int], Awaitable[None]] | None,
    metrics_hooks: list[Hook],
) -> None:
    # The relay's publish spans, and the trace context of events recorded outside any HTTP request.
    if settings.tracing_enabled:
        setup_tracing(settings.otel_service_name or "commitments-relay", settings.otel_exporter_otlp_endpoint)
    stop = stop_on_signals()
    nats_client = await connect_unless_stopped(
        stop, settings.nats_url, name="commitments-relay", error_cb=_log_nats_error
    )
    if nats_client is None:
        return
    connection["nats"] = nats_client
    engine = create_engine(settings.database_url)
    stream = settings.commitments_stream()
    sessionmaker = outbox_aware_sessionmaker(engine, lambda: None)
    metrics_hooks.append(outbox_lag_hook(stream.name, lambda: outbox_lag(sessionmaker, SystemClock())))
    outbox_relay = OutboxRelay(
        sessionmaker,
        nats_client,
        stream,
        SystemClock(),
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_poll_seconds,
        before_mark=before_mark,
        before_publish=before_publish,
    )
    try:
        await outbox_relay.run(stop)  # declares the stream (ensure_stream) before relaying
    finally:
        with contextlib.suppress(Exception):
            await nats_client.drain()
        await engine.dispose()


async def _log_nats_error(error: Exception) -> None:
    logger.warning("NATS: %s", error or type(error).__name__)
