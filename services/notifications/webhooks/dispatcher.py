"""The webhook dispatcher: sends due deliveries as signed POSTs and records what each attempt gave.

A batch is claimed in a short transaction (its deliveries pushed ahead by a lease), sent outside any
transaction, and each result recorded in a transaction of its own. A dispatcher that dies mid-send leaves
its claims to expire: the delivery goes out again with the same `webhook-id`, which the receiver uses to
drop the duplicate. Several dispatchers may run: on PostgreSQL claims skip rows another one has locked.
The lease covers the whole batch (its rounds at the dispatcher's concurrency, each up to the timeout), and a
result is recorded only on a delivery still held by this claim (pending, same lease, same attempt count): a
dispatcher that was too slow never overwrites what another recorded since.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.deliveries import events
from services.notifications.deliveries.events import ReminderDelivery
from services.notifications.metrics import (
    WEBHOOK_ATTEMPTS,
    WEBHOOK_DELIVERIES_FAILED,
    WEBHOOK_FAILURES,
    count_reminder_events,
)
from services.notifications.outbox.recorder import record_event
from services.notifications.webhooks import repository, service
from services.notifications.webhooks.models import WebhookDelivery, WebhookSubscription
from services.notifications.webhooks.service import AttemptResult, RetryPolicy
from services.notifications.webhooks.signing import signature_headers
from services.notifications.webhooks.ssrf import CheckedTarget, TargetPolicy, UnsafeTarget, check_target
from shared.clock import Clock
from shared.events import EventData
from shared.telemetry import extract_trace_context

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

USER_AGENT = "Engagements-Webhooks/1.0"


@dataclass(frozen=True)
class ClaimedDelivery:
    """What a send needs, copied out of the claim's transaction."""

    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    url: str
    secrets: tuple[str, ...]
    payload: bytes
    # The claim's fence: the result is recorded only if the delivery still carries both.
    attempts: int
    lease_until: datetime
    # The trace it was queued in, carried on by the POST's span.
    trace_context: dict[str, str] | None = None


def _pinned_request(
    client: httpx.AsyncClient, target: CheckedTarget, headers: dict[str, str], body: bytes
) -> httpx.Request:
    """A POST that connects to the checked address itself: the name is only in `Host` and TLS SNI, so the
    connection cannot land anywhere the check did not see (DNS rebinding)."""
    url = httpx.URL(target.url)
    return client.build_request(
        "POST",
        url.copy_with(host=str(target.addresses[0])),
        content=body,
        headers={**headers, "Host": url.netloc.decode("ascii")},
        # The certificate is checked against the name, as for a request to the name.
        extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
    )


async def post_signed(
    client: httpx.AsyncClient, target_policy: TargetPolicy, clock: Clock, claimed: ClaimedDelivery
) -> AttemptResult:
    """Check the target again, sign and POST the delivery's body once; never raises."""
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        target = await check_target(claimed.url, target_policy)
    except UnsafeTarget as exc:
        return AttemptResult(status_code=None, error=f"Non envoyé : {exc}", duration_ms=elapsed())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signature_headers(claimed.secrets, str(claimed.event_id), clock.now(), claimed.payload),
    }
    request = _pinned_request(client, target, headers, claimed.payload)
    try:
        # Streamed and closed unread: only the status matters, and an endpoint must not make us read megabytes.
        response = await client.send(request, stream=True, follow_redirects=False)
        await response.aclose()
    except httpx.TimeoutException:
        return AttemptResult(status_code=None, error="Délai de réponse dépassé.", duration_ms=elapsed())
    except httpx.HTTPError as exc:
        return AttemptResult(
            status_code=None,
            error=f"Échec de la connexion : {type(exc).__name__} {exc}".strip(),
            duration_ms=elapsed(),
        )
    error = None
    if response.is_redirect:
        error = f"Redirection non suivie (Location : {response.headers.get('location', '?')[:300]})."
    return AttemptResult(status_code=response.status_code, error=error, duration_ms=elapsed())


def http_client(timeout_seconds: float) -> httpx.AsyncClient:
    """The dispatcher's HTTP client: no proxy from the environment, no redirects, no connection reuse."""
    # No keep-alive: requests go to an IP with the name in SNI, and a pooled connection opened for one name
    # would be reused for another name served at the same address. Webhooks are few; a handshake each is cheap.
    return httpx.AsyncClient(
        timeout=timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


@dataclass
class WebhookDispatcher:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    target_policy: TargetPolicy = field(default_factory=TargetPolicy)
    timeout_seconds: float = 10.0
    batch_size: int = 50
    concurrency: int = 10
    poll_seconds: float = 2.0
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def lease(self) -> timedelta:
        # Longer than the whole batch can take: its rounds at `concurrency`, each send up to twice the timeout
        # (DNS, connection, answer), and the result's transaction. A claim that outlives it belongs to a
        # dispatcher that died.
        rounds = math.ceil(self.batch_size / max(self.concurrency, 1))
        return timedelta(seconds=rounds * 2 * self.timeout_seconds + 30)

    def wake(self) -> None:
        """Look for due deliveries now (called after a commit that queued some)."""
        self._wakeup.set()

    async def claim(self) -> list[ClaimedDelivery]:
        """Claim the due deliveries of one batch for the lease's duration."""
        now = self.clock.now()
        lease_until = now + self.lease
        async with self.sessionmaker() as session, session.begin():
            rows = await repository.claim_due(session, now, self.batch_size)
            for delivery, _subscription in rows:
                delivery.next_attempt_at = lease_until
            return [
                ClaimedDelivery(
                    delivery.id,
                    subscription.id,
                    delivery.event_id,
                    delivery.event_type,
                    subscription.url,
                    tuple(service.secrets_in_use(subscription, now)),
                    delivery.payload.encode(),
                    delivery.attempts,
                    lease_until,
                    delivery.trace_context,
                )
                for delivery, subscription in rows
            ]

    async def dispatch_due(self) -> int:
        """Send every delivery due now, one batch after another; returns how many attempts were made."""
        total = 0
        limit = asyncio.Semaphore(self.concurrency)
        async with http_client(self.timeout_seconds) as client:
            while claimed := await self.claim():

                async def send(item: ClaimedDelivery) -> None:
                    async with limit:
                        await self._send_and_record(client, item)

                await asyncio.gather(*(send(item) for item in claimed))
                total += len(claimed)
        return total

    async def _send_and_record(self, client: httpx.AsyncClient, claimed: ClaimedDelivery) -> None:
        with tracer.start_as_current_span(
            "webhook POST",
            kind=trace.SpanKind.CLIENT,
            context=extract_trace_context(claimed.trace_context),
            attributes={
                "webhook.subscription_id": str(claimed.subscription_id),
                "webhook.event_id": str(claimed.event_id),
                "webhook.event_type": claimed.event_type,
            },
        ):
            result = await post_signed(client, self.target_policy, self.clock, claimed)
        if not result.succeeded:
            logger.info(
                "webhook %s to subscription %s: %s %s",
                claimed.event_id,
                claimed.subscription_id,
                result.status_code,
                result.error or "",
            )
        await self.record(claimed, result)

    async def record(self, claimed: ClaimedDelivery, result: AttemptResult) -> bool:
        """Record one attempt's result if the delivery is still held by this claim; whether it was."""
        async with self.sessionmaker() as session, session.begin():
            # Locked on PostgreSQL: no other dispatcher claims it between this check and the commit.
            delivery = await session.get(
                WebhookDelivery, claimed.delivery_id, with_for_update=True, populate_existing=True
            )
            subscription = await session.get(WebhookSubscription, claimed.subscription_id)
            if delivery is None or subscription is None or delivery.status != "pending":
                return False  # deleted (or settled by a disable) while the request was in flight
            if delivery.attempts != claimed.attempts or delivery.next_attempt_at != claimed.lease_until:
                logger.warning(
                    "webhook %s to subscription %s: result %s not recorded, the delivery was claimed "
                    "again meanwhile",
                    claimed.event_id,
                    claimed.subscription_id,
                    _describe(result),
                )
                return False
            await service.record_attempt(session, self.clock, self.policy, delivery, subscription, result)
            told = _reminder_outcome(session, self.clock, delivery, result)
        WEBHOOK_ATTEMPTS.inc()
        if not result.succeeded:
            WEBHOOK_FAILURES.inc()
        if delivery.status == "failed":
            WEBHOOK_DELIVERIES_FAILED.inc()
        count_reminder_events(told)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set: on each wake-up, and on a short poll for retries coming due."""
        while not stop.is_set():
            self._wakeup.clear()  # before dispatching: a delivery queued meanwhile wakes the next turn
            try:
                await self.dispatch_due()
            except Exception:  # the database is away: everything stays pending, try again on the next turn
                logger.exception("webhook dispatcher: dispatch failed, will retry")
            waiters = [asyncio.ensure_future(self._wakeup.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter


def _reminder_outcome(
    session: AsyncSession, clock: Clock, delivery: WebhookDelivery, result: AttemptResult
) -> list[EventData]:
    """A settled webhook delivery of a reminder event: its `delivery.sent` or `delivery.failed`, in the
    transaction that settles it (none for other events, nor while retries go on)."""
    if delivery.status not in ("succeeded", "failed"):
        return []
    try:
        envelope = json.loads(delivery.payload)
    except ValueError:
        return []
    partners = (envelope.get("data") or {}).get("partner_ids") or []
    reminder = ReminderDelivery(
        delivery.id,
        envelope,
        uuid.UUID(partners[0]) if len(partners) == 1 else None,
        None,
        delivery.attempts,
        channel=events.WEBHOOK,
    )
    if delivery.status == "succeeded":
        data: EventData | None = reminder.sent()
    else:
        reason = events.WEBHOOK_REFUSED if result.status_code is not None else events.WEBHOOK_UNREACHABLE
        data = reminder.failed(reason, permanent=result.gone)
    if data is None:
        return []
    record_event(session, data, clock)
    return [data]


def _describe(result: AttemptResult) -> str:
    return f"HTTP {result.status_code}" if result.status_code is not None else (result.error or "?")
