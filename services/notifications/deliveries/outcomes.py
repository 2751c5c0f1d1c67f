"""What happened to each claimed delivery, recorded on its row: sent, cancelled, retried later (SMTP 4xx, with
exponential backoff, given up after RETRY_GIVE_UP_SECONDS) or failed (5xx, reported once to the item's city
owner).

Outcomes are committed as they come: a connection's outcome is in the database before that connection sends
its next mail (sender.py), the outcomes that arrive while a commit is under way going together in the next one.
Each is fenced: recorded only on a row still held by the same worker identity, generation and attempt number
(claims.py), so a worker whose rows were taken over records nothing on them.

An outcome that ends a reminder's delivery writes its event (deliveries/events.py) into the service's outbox in
the same transaction: sent, or failed for good (5xx, an address refused, retries given up, nobody left to
write to). A retry scheduled, or a reminder cancelled because it is no longer current, writes none."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import events, repository, service
from services.notifications.deliveries.claims import Claim
from services.notifications.deliveries.events import ReminderDelivery
from services.notifications.deliveries.models import Delivery, DeliveryKind, DeliveryStatus
from services.notifications.deliveries.repository import ClaimedDelivery, Holder
from services.notifications.metrics import count_reminder_events
from services.notifications.outbox.recorder import record_events
from services.notifications.recipients import Recipient
from services.notifications.smtp import SendResult
from shared.clock import Clock
from shared.events import EventData

tracer = trace.get_tracer(__name__)


@dataclass
class Attempt:
    """What happened to one claimed delivery."""

    result: SendResult | None  # None: nothing to send any more (cancelled)
    reply: str
    # City owners to tell when a reminder fails for good.
    owners: list[Recipient] = field(default_factory=list)
    # Reminders of a digest dropped as no longer current, with the reason.
    cancelled_parts: dict[uuid.UUID, str] = field(default_factory=dict)
    # Why it was not sent, as a stable code (deliveries/events.py) when the sender knows better than the result:
    # "no-recipient" (nobody left to write to), "invalid-address" (refused before sending).
    reason: str | None = None


@dataclass
class Outcome:
    claim: Claim
    row: ClaimedDelivery
    attempt: Attempt
    # The span of the delivery's send: the commit that records outcomes of several sends links to each (none
    # when an outcome is recorded outside a send).
    span: SpanContext = trace.INVALID_SPAN_CONTEXT


class OutcomeRecorder:
    """Commits outcomes as they come, those that arrive during a commit together in the next one."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: NotificationsSettings,
        clock: Clock,
        on_new_deliveries: Callable[[], None],
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.clock = clock
        self.on_new_deliveries = on_new_deliveries
        self._waiting: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._committing: asyncio.Task[None] | None = None

    async def record(self, claim: Claim, row: ClaimedDelivery, attempt: Attempt) -> None:
        """Returns once the outcome is committed; raises what the commit raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        span = trace.get_current_span().get_span_context()  # the send's (sender.py)
        self._waiting.append((Outcome(claim, row, attempt, span), future))
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit_waiting())
        await asyncio.shield(future)  # a lane cancelled meanwhile does not cancel the others' commit

    async def _commit_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            told: list[EventData] = []
            try:
                # Outcomes of several traces: a span of its own, linked to each send's.
                with tracer.start_as_current_span(
                    "record outcomes",
                    context=otel_context.Context(),
                    links=[trace.Link(outcome.span) for outcome, _ in batch if outcome.span.is_valid],
                ):
                    async with self.sessionmaker() as session, session.begin():
                        reported = await record_outcomes(
                            session, self.settings, self.clock, [outcome for outcome, _ in batch], told
                        )
            except Exception as exc:  # noqa: BLE001 - each waiting lane gets it (the rows keep their claim)
                for _, future in batch:
                    future.set_exception(exc)
                continue
            count_reminder_events(told)  # committed: now they count
            for _, future in batch:
                future.set_result(None)
            if reported:
                self.on_new_deliveries()


def retry_delay(settings: NotificationsSettings, attempts: int) -> timedelta:
    """The wait before the next attempt after a temporary failure (attempts: the ones made so far)."""
    delay = settings.retry_initial_seconds * settings.retry_multiplier ** max(attempts - 1, 0)
    return timedelta(seconds=min(delay, settings.retry_max_interval_seconds))


async def record_outcomes(
    session: AsyncSession,
    settings: NotificationsSettings,
    clock: Clock,
    outcomes: list[Outcome],
    told: list[EventData] | None = None,
) -> bool:
    """Record outcomes on the rows their claims still hold; returns whether failure reports were written.
    The events written go to `told` too (for the metrics, counted once committed)."""
    told = [] if told is None else told
    already_told = len(told)
    now = clock.now()
    # The rows whose outcome is not the usual one, read before the digests among the sent rows leave `pending`.
    unusual = [
        outcome
        for outcome in outcomes
        if outcome.attempt.result is not SendResult.SENT or outcome.attempt.cancelled_parts
    ]
    owned = await _still_held(session, unusual)
    sent: dict[tuple[Holder, int], list[uuid.UUID]] = {}
    for outcome in outcomes:
        if outcome.attempt.result is SendResult.SENT:
            sent.setdefault((outcome.claim.holder, outcome.row.attempts), []).append(outcome.row.id)
    marked: dict[uuid.UUID, uuid.UUID | None] = {}
    for (holder, attempts), ids in sent.items():
        marked.update(await repository.mark_sent(session, ids, now, holder, attempts))
    for outcome in outcomes:
        if outcome.row.id in marked:
            for reminder in _reminders(outcome, marked[outcome.row.id]):
                _tell(reminder.sent(), told)
    reported = False
    for outcome in unusual:
        row = owned.get(outcome.row.id)
        if row is None:
            continue  # no longer ours: another sender took it over when our lease lapsed
        attempt = outcome.attempt
        if attempt.cancelled_parts:
            await repository.cancel_parts(session, row.id, attempt.cancelled_parts, now)
        if attempt.result is not SendResult.SENT:
            reported |= await _record_unsent(
                session, settings, clock, row, attempt, now, _reminders(outcome, row.partner_id), told
            )
    # The events of every outcome in one statement, in the order told.
    await record_events(session, told[already_told:], clock)
    return reported


def _reminders(outcome: Outcome, partner_id: uuid.UUID | None) -> list[ReminderDelivery]:
    """The reminders an outcome is about: the delivery itself, or the reminders its digest carried (those not
    dropped as stale), each told apart by its own delivery id."""
    row = outcome.row
    if row.kind == DeliveryKind.DIGEST:
        return [
            ReminderDelivery(part.id, part.event, part.partner_id, part.contact_id, row.attempts)
            for part in outcome.claim.digest_parts.get(row.id, [])
            if part.id not in outcome.attempt.cancelled_parts
        ]
    return [ReminderDelivery(row.id, row.event, partner_id, row.contact_id, row.attempts)]


def _tell(data: events.DeliverySent | events.DeliveryFailed | None, told: list[EventData]) -> None:
    if data is not None:  # None: not a reminder (a failure report)
        told.append(data)


async def _still_held(session: AsyncSession, outcomes: list[Outcome]) -> dict[uuid.UUID, Delivery]:
    owned: dict[uuid.UUID, Delivery] = {}
    for_update = session.bind.dialect.name == "postgresql"
    by_holder: dict[Holder, list[Outcome]] = {}
    for outcome in outcomes:
        by_holder.setdefault(outcome.claim.holder, []).append(outcome)
    for holder, holder_outcomes in by_holder.items():
        attempts = {outcome.row.id: outcome.row.attempts for outcome in holder_outcomes}
        rows = await repository.still_claimed(session, list(attempts), holder, for_update)
        owned.update((row.id, row) for row in rows if row.attempts == attempts[row.id])
    return owned


async def _record_unsent(
    session: AsyncSession,
    settings: NotificationsSettings,
    clock: Clock,
    row: Delivery,
    attempt: Attempt,
    now: datetime,
    reminders: list[ReminderDelivery],
    told: list[EventData],
) -> bool:
    """A delivery not sent this time: cancelled, retried later, or failed (and reported); returns whether a
    failure report was written."""
    row.updated_at, row.last_error = now, attempt.reply[:1000]
    row.claimed_by = row.claim_generation = None
    if attempt.result is None:
        row.status, row.next_attempt_at = DeliveryStatus.CANCELLED.value, None
        if (
            attempt.reason == events.NO_RECIPIENT
        ):  # nobody to write to: an address to fix, not a stale reminder
            for reminder in reminders:
                _tell(reminder.failed(events.NO_RECIPIENT, permanent=True), told)
        return False
    gave_up = (now - row.retry_since).total_seconds() >= settings.retry_give_up_seconds
    if attempt.result is SendResult.TEMPORARY and not gave_up:
        row.next_attempt_at = now + retry_delay(settings, row.attempts)
        return False
    if gave_up and attempt.result is SendResult.TEMPORARY:
        row.last_error = f"abandon après {row.attempts} tentatives : {attempt.reply}"[:1000]
    row.status, row.failed_at, row.next_attempt_at = DeliveryStatus.FAILED.value, now, None
    permanent = attempt.result is SendResult.PERMANENT
    reason = attempt.reason or (events.SMTP_REFUSED if permanent else events.SMTP_GAVE_UP)
    for reminder in reminders:
        _tell(reminder.failed(reason, permanent), told)
    if row.kind == DeliveryKind.REMINDER and attempt.owners:
        await service.record_failure_reports(session, clock, settings.message_id_domain, row, attempt.owners)
        return True
    return False
