"""The deadline scanner as a process of its own (`python -m services.commitments scan`): /healthz and
/readyz on HEALTH_PORT, then `DeadlineScanner` (services/commitments/reminders/scanner.py) once or until
SIGTERM/SIGINT, waking the relays after each batch. Running until stopped, it also purges the expired
Idempotency-Key records every IDEMPOTENCY_PURGE_SECONDS (services/commitments/idempotency/retention.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from nats.aio.client import Client as NatsClient

from services.commitments.config import ScannerSettings
from services.commitments.database import outbox_aware_sessionmaker
from services.commitments.idempotency.retention import purge_periodically
from services.commitments.outbox.relay import ping_relays
from services.commitments.reminders.scanner import DeadlineScanner, clock_as_of
from services.commitments.subscriptions import install
from shared.bus import connect
from shared.calendar import use_calendar
from shared.clock import SystemClock
from shared.db import create_engine
from shared.probes import worker_probes
from shared.telemetry import setup_tracing
from shared.worker_process import stop_on_signals

logger = logging.getLogger("services.commitments.scanner")


async def run_scanner(
    settings: ScannerSettings,
    *,
    once: bool,
    as_of: datetime | None,
    in_batch: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    """One tick printed as a JSON line (`once`), or ticks every SCANNER_POLL_SECONDS until SIGTERM/SIGINT;
    `as_of` fixes the clock; `in_batch` is the scanner's hook inside each batch's transaction (the crash tests
    use it). Ready (HEALTH_PORT) while the database answers. Not NATS: the scanner's events go to the outbox,
    and it only pings the relays (which poll anyway)."""
    async with worker_probes(settings.health_port, settings.database_url):
        await _scan(settings, once, as_of, in_batch)


async def _scan(
    settings: ScannerSettings,
    once: bool,
    as_of: datetime | None,
    in_batch: Callable[[int], Awaitable[None]] | None,
) -> None:
    use_calendar(settings.working_calendar())
    # The spans of the reminders fired, each in the trace of the request that dated its deadline.
    if settings.tracing_enabled:
        setup_tracing(
            settings.otel_service_name or "commitments-scanner", settings.otel_exporter_otlp_endpoint
        )
    install()  # a request marked « sans réponse » moves along its lifecycle, with what that sets off
    engine = create_engine(settings.database_url)
    stream = settings.commitments_stream()
    try:  # to wake the relay at once after a batch; without NATS the relay's poll still finds the events
        # connect() retries forever while NATS is away: the scanner does not wait for it.
        nats_client: NatsClient | None = await asyncio.wait_for(
            connect(settings.nats_url, name="commitments-scanner", error_cb=_log_nats_error), timeout=5
        )
    except Exception as exc:  # noqa: BLE001 - whatever stops NATS, the relay's poll still publishes
        logger.warning(
            "NATS unreachable (%s): the relay publishes the scanner's events at its next poll", exc
        )
        nats_client = None
    pings: set[asyncio.Task[None]] = set()

    def wake_relays() -> None:
        if nats_client is not None:
            task = asyncio.get_running_loop().create_task(ping_relays(nats_client, stream))
            pings.add(task)  # the loop holds tasks weakly
            task.add_done_callback(pings.discard)

    # Events go to the outbox in the batch's transaction; the relay publishes them.
    sessionmaker = outbox_aware_sessionmaker(engine, wake_relays)
    scanner = DeadlineScanner(
        sessionmaker,
        clock_as_of(as_of, SystemClock()),
        batch_size=settings.scanner_batch_size,
        in_batch=in_batch,
    )
    try:
        if once:
            result = await scanner.tick()
            print(
                json.dumps(
                    {
                        "scanner": "tick",
                        "fired": result.fired,
                        "superseded": result.skipped,
                        "recomputed": result.recomputed,
                        "failed": result.failed,
                        "unanswered": [str(item_id) for item_id in result.marked_unanswered],
                    }
                ),
                flush=True,
            )
            return
        stop = stop_on_signals()
        print(json.dumps({"scanner": "started"}), flush=True)
        loops = [scanner.run(stop, settings.scanner_poll_seconds)]
        if settings.idempotency_purge_seconds > 0:
            # By the system's clock, not the scan's --as-of: the records' retention is real time.
            loops.append(
                purge_periodically(sessionmaker, SystemClock(), stop, settings.idempotency_purge_seconds)
            )
        await asyncio.gather(*loops)  # each loop keeps going through its own failures, until stop
    finally:
        if pings:
            await asyncio.wait(pings, timeout=2)
        if nats_client is not None:
            with contextlib.suppress(Exception):
                await nats_client.drain()
        await engine.dispose()


async def _log_nats_error(error: Exception) -> None:
    logger.warning("NATS: %s", error or type(error).__name__)
