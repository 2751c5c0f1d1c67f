"""Webhook subscriptions of the intranet, the deliveries each event gives rise to, and what an attempt changes."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.config import NotificationsSettings
from services.notifications.webhooks import repository
from services.notifications.webhooks.models import (
    ALL_EVENTS,
    PING_EVENT,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from services.notifications.webhooks.schemas import (
    WebhookAttemptRead,
    WebhookCreate,
    WebhookDeliveryPage,
    WebhookDeliveryRead,
    WebhookUpdate,
)
from services.notifications.webhooks.signing import new_secret
from services.notifications.webhooks.ssrf import TargetPolicy, UnsafeTarget, check_target
from shared.clock import Clock
from shared.events.envelope import Actor, EventEnvelope
from shared.problems import InvalidInput, NotFound
from shared.telemetry import inject_trace_context

MAX_PAGE = 200


class UnsafeWebhookTarget(InvalidInput):
    code, title = "unsafe-webhook-target", "Adresse de webhook refusée"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff between attempts of one delivery, and when a subscription gives up altogether."""

    max_attempts: int = 8
    initial_seconds: float = 30.0
    multiplier: float = 2.0
    max_interval_seconds: float = 6 * 3600.0
    # Each wait is shortened by up to this fraction, so deliveries that failed together do not retry together.
    jitter: float = 0.1
    # Deliveries failed for good in a row (each after all its attempts) before the subscription is disabled.
    disable_after_failures: int = 3
    # How long the previous secret keeps signing after a rotation.
    rotation_grace_seconds: float = 24 * 3600.0

    def delay_after(self, attempts_made: int, key: str) -> timedelta | None:
        """The wait before the next attempt once `attempts_made` have failed; None when none is left."""
        if attempts_made >= self.max_attempts:
            return None
        wait = min(self.initial_seconds * self.multiplier ** (attempts_made - 1), self.max_interval_seconds)
        # Derived from the delivery rather than drawn at random: the same inputs give the same schedule.
        fraction = (
            int.from_bytes(hashlib.sha256(f"{key}/{attempts_made}".encode()).digest()[:4], "big") / 2**32
        )
        return timedelta(seconds=wait * (1 - self.jitter * fraction))


@dataclass(frozen=True)
class AttemptResult:
    """What one POST gave: the status code the endpoint answered, or the error that stood in its way."""

    status_code: int | None
    error: str | None = None
    duration_ms: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        # 410 Gone: the receiver says the endpoint will never come back; retrying would only be noise.
        return self.status_code == 410


def retry_policy(settings: NotificationsSettings) -> RetryPolicy:
    """The retry and disabling rules the settings choose."""
    return RetryPolicy(
        max_attempts=settings.webhook_max_attempts,
        initial_seconds=settings.webhook_retry_initial_seconds,
        multiplier=settings.webhook_retry_multiplier,
        max_interval_seconds=settings.webhook_retry_max_interval_seconds,
        disable_after_failures=settings.webhook_disable_after_failures,
        rotation_grace_seconds=settings.webhook_secret_rotation_grace_seconds,
    )


def target_policy(settings: NotificationsSettings) -> TargetPolicy:
    """Which targets the settings allow (plain http, non-public addresses: both off by default)."""
    return TargetPolicy(
        allow_http=settings.webhook_allow_http, allow_private=settings.webhook_allow_private_targets
    )


async def checked_url(url: str, policy: TargetPolicy) -> str:
    """The URL when it may be a webhook target; UnsafeWebhookTarget (422) with the reason otherwise."""
    try:
        await check_target(url, policy)
    except UnsafeTarget as exc:
        raise UnsafeWebhookTarget(str(exc), field="url") from None
    return url


async def get(session: AsyncSession, subscription_id: uuid.UUID) -> WebhookSubscription:
    """The subscription, or NotFound."""
    subscription = await repository.get(session, subscription_id)
    if subscription is None:
        raise NotFound("Abonnement webhook introuvable.")
    return subscription


async def list_subscriptions(session: AsyncSession) -> list[WebhookSubscription]:
    """Every subscription, oldest first."""
    return list(await repository.list_all(session))


async def create_subscription(
    session: AsyncSession, actor: Actor, clock: Clock, policy: TargetPolicy, data: WebhookCreate
) -> WebhookSubscription:
    """Subscribe an endpoint to event types, with a fresh secret (the caller shows it once)."""
    url = await checked_url(data.url, policy)
    now = clock.now()
    subscription = WebhookSubscription(
        url=url,
        description=data.description,
        event_types=data.event_types,
        secret=new_secret(),
        enabled=True,
        consecutive_failures=0,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    await session.flush()
    return subscription


@dataclass(frozen=True)
class CheckedUpdate:
    """A subscription's changes whose URL, if any, passed the SSRF check (made only by check_update)."""

    data: WebhookUpdate


async def check_update(data: WebhookUpdate, policy: TargetPolicy) -> CheckedUpdate:
    """Check the new URL, if any (DNS: call it before the request's transaction takes any lock)."""
    if data.url is not None:
        await checked_url(data.url, policy)
    return CheckedUpdate(data)


async def update_subscription(
    session: AsyncSession, clock: Clock, subscription: WebhookSubscription, checked: CheckedUpdate
) -> WebhookSubscription:
    """Change the URL, the event types, the description, or enable / disable the subscription."""
    data = checked.data
    changes = data.model_dump(exclude_unset=True)
    for field in ("url", "event_types", "enabled"):
        if field in changes and changes[field] is None:
            raise InvalidInput(f"{field} ne peut pas être null.", field=field)
    if data.url is not None and data.url != subscription.url:
        subscription.url = data.url
    if data.event_types is not None:
        subscription.event_types = data.event_types
    if "description" in changes:
        subscription.description = data.description
    if data.enabled is not None and data.enabled != subscription.enabled:
        if data.enabled:
            # A fresh start: the failures that disabled it are history, kept in the deliveries.
            subscription.consecutive_failures, subscription.disabled_reason = 0, None
        else:
            await _disable(session, clock, subscription, "Désactivé à la demande.")
        subscription.enabled = data.enabled
    subscription.updated_at = clock.now()
    return subscription


async def delete_subscription(session: AsyncSession, subscription: WebhookSubscription) -> None:
    """Remove the subscription with its deliveries."""
    await session.delete(subscription)


async def rotate_secret(
    session: AsyncSession, clock: Clock, policy: RetryPolicy, subscription: WebhookSubscription
) -> WebhookSubscription:
    """Give the subscription a new secret; the old one keeps signing beside it for a grace period."""
    now = clock.now()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_expires_at = now + timedelta(seconds=policy.rotation_grace_seconds)
    subscription.secret = new_secret()
    subscription.updated_at = now
    return subscription


def secrets_in_use(subscription: WebhookSubscription, now: datetime) -> list[str]:
    """The secrets a request is signed with: the current one, and the previous one until it expires."""
    in_use = [subscription.secret]
    if (
        subscription.previous_secret
        and subscription.previous_secret_expires_at
        and subscription.previous_secret_expires_at > now
    ):
        in_use.append(subscription.previous_secret)
    return in_use


async def list_deliveries(
    session: AsyncSession,
    subscription: WebhookSubscription,
    status: str | None,
    cursor: uuid.UUID | None,
    limit: int,
) -> WebhookDeliveryPage:
    """The subscription's deliveries, newest first, each with its attempts."""
    deliveries = list(await repository.deliveries_page(session, subscription.id, status, cursor, limit + 1))
    more = len(deliveries) > limit
    deliveries = deliveries[:limit]
    history: dict[uuid.UUID, list[WebhookAttemptRead]] = {}
    for attempt in await repository.attempts_of(session, [d.id for d in deliveries]):
        history.setdefault(attempt.delivery_id, []).append(WebhookAttemptRead.model_validate(attempt))
    reads = [
        WebhookDeliveryRead.model_validate(d).model_copy(update={"history": history.get(d.id, [])})
        for d in deliveries
    ]
    return WebhookDeliveryPage(items=reads, next_cursor=deliveries[-1].id if more else None)


async def queue_ping(
    session: AsyncSession, actor: Actor, clock: Clock, subscription: WebhookSubscription
) -> WebhookDelivery:
    """Queue a signed test request (`webhook.ping`) to the subscription, sent at once by the dispatcher."""
    now = clock.now()
    envelope = EventEnvelope(
        type=PING_EVENT,
        version=1,
        occurred_at=now,
        actor=actor,
        data={"subscription_id": str(subscription.id)},
    )
    delivery = WebhookDelivery(
        subscription_id=subscription.id,
        event_id=envelope.id,
        event_type=PING_EVENT,
        payload=envelope.model_dump_json(),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        trace_context=dict(inject_trace_context({})) or None,
        created_at=now,
    )
    session.add(delivery)
    await session.flush()
    return delivery


def subscribes_to(subscription: WebhookSubscription, event_type: str) -> bool:
    return ALL_EVENTS in subscription.event_types or event_type in subscription.event_types


async def record_event(session: AsyncSession, clock: Clock, envelope: EventEnvelope) -> int:
    """One pending delivery per enabled subscription that wants this event (none twice); returns how many
    this call created."""
    now = clock.now()
    payload = envelope.model_dump_json()
    # The trace the event is handled in (the consumer's span): each POST of it carries it on.
    trace_context = dict(inject_trace_context({})) or None
    created = 0
    for subscription in await repository.list_enabled(session):
        # A new subscription receives what happens from then on, not the stream's history.
        if subscribes_to(subscription, envelope.type) and envelope.occurred_at >= subscription.created_at:
            created += await repository.insert_delivery_once(
                session,
                {
                    "subscription_id": subscription.id,
                    "event_id": envelope.id,
                    "event_type": envelope.type,
                    "payload": payload,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "trace_context": trace_context,
                    "created_at": now,
                },
            )
    return created


async def record_attempt(
    session: AsyncSession,
    clock: Clock,
    policy: RetryPolicy,
    delivery: WebhookDelivery,
    subscription: WebhookSubscription,
    result: AttemptResult,
) -> None:
    """Keep the attempt, then settle the delivery: done, retried later, or failed — and disable the
    subscription on 410 Gone or after too many deliveries failed in a row."""
    now = clock.now()
    delivery.attempts += 1
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=delivery.attempts,
            attempted_at=now,
            status_code=result.status_code,
            error=_clip(result.error),
            duration_ms=result.duration_ms,
        )
    )
    delivery.last_status_code, delivery.last_error = result.status_code, _clip(result.error)
    is_ping = delivery.event_type == PING_EVENT
    if result.succeeded:
        _settle(delivery, "succeeded", now)
        if not is_ping:
            subscription.consecutive_failures = 0
        return
    if result.gone:
        _settle(delivery, "failed", now)
        if subscription.enabled:
            await _disable(
                session,
                clock,
                subscription,
                "L'adresse a répondu 410 Gone : elle ne veut plus recevoir d'événements.",
            )
        return
    delay = None if is_ping else policy.delay_after(delivery.attempts, str(delivery.id))
    if delay is not None:
        delivery.next_attempt_at = now + delay
        return
    # A test request is tried once and says nothing about the subscription's health.
    _settle(delivery, "failed", now)
    if is_ping:
        return
    subscription.consecutive_failures += 1
    if subscription.enabled and subscription.consecutive_failures >= policy.disable_after_failures:
        await _disable(
            session,
            clock,
            subscription,
            f"{subscription.consecutive_failures} livraisons consécutives en échec "
            f"(dernière erreur : {_describe(result)}).",
        )


def _settle(delivery: WebhookDelivery, status: str, now: datetime) -> None:
    delivery.status, delivery.completed_at, delivery.next_attempt_at = status, now, None


async def _disable(
    session: AsyncSession, clock: Clock, subscription: WebhookSubscription, reason: str
) -> None:
    now = clock.now()
    subscription.enabled, subscription.disabled_reason, subscription.updated_at = (
        False,
        _clip(reason, 300),
        now,
    )
    # A disabled subscription receives nothing: what was still waiting for it is abandoned, not held back.
    await repository.fail_pending(session, subscription.id, "Abonnement désactivé avant l'envoi.", now)


def _describe(result: AttemptResult) -> str:
    return (
        f"HTTP {result.status_code}"
        if result.status_code is not None
        else (result.error or "erreur inconnue")
    )


def _clip(text: str | None, limit: int = 500) -> str | None:
    return None if text is None else text[:limit]
