"""The sender loop: picks due deliveries from the table, renders them with fresh data from the commitments
service, sends them over SMTP and records the outcome.

A claim pushes the rows' next attempt to the end of a lease and commits before anything is sent, so a
sender that dies mid-send leaves rows that come back when the lease lapses: at most one duplicate, under the
Message-ID stored with the row. While a batch is being sent its lease is renewed, and an outcome is recorded
only on a row still holding this claim (pending, same lease, same attempt number): a sender that was too slow
never overwrites what another one recorded since. The consumer of the same process writes the deliveries it
records already claimed that way and hands them over (take_over): the same lease and fence, without the claim.

Just before sending, a reminder is checked against the commitments service's answer: one whose deadline was
renegotiated since the event, or met, or whose item no longer takes reminders (answered, delivered,
abandoned …) is cancelled with the reason instead of being mailed."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.commitments_client import CommitmentsClient, ContextRefused
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import repository, service
from services.notifications.deliveries.models import Delivery, DeliveryKind, DeliveryStatus
from services.notifications.deliveries.repository import ClaimedDelivery
from services.notifications.deliveries.service import DeadlineReminder
from services.notifications.email.message import OutgoingMail, build_mail
from services.notifications.email.render import (ReminderDraft, link_keys, load_templates, render_digest,
                                                 render_failure_report, reminder_draft)
from services.notifications.recipients import Recipient, ReminderContext
from services.notifications.smtp import SendOutcome, SendResult, SmtpPool
from shared.calendar import WorkingCalendar, default_calendar
from shared.clock import Clock, paris_today
from shared.events import EventEnvelope
from shared.problems import ServiceUnavailable

logger = logging.getLogger(__name__)

ActionLinks = Callable[[NotificationsSettings, uuid.UUID, uuid.UUID, uuid.UUID | None, datetime], dict[str, str]]


def default_action_links() -> ActionLinks:
    """The signed links of services/notifications/actions (none until that package is installed)."""
    try:
        from services.notifications.actions.links import action_links
    except ImportError:  # the action pages are a separate package; mails still go out without links
        logger.warning("services.notifications.actions.links missing: reminders go out without action links")
        return lambda *_args: {}
    return action_links  # type: ignore[no-any-return]


# Who may act on a request through the signed links: the partner's people. The city's own (its owner, the
# elected official) get the mail without them, since the pages act as a contact of the partner.
PARTNER_AUDIENCES = frozenset({"liaison", "deputy", "hierarchy"})


def takes_action_links(context: ReminderContext, recipient: Recipient) -> bool:
    """Whether this recipient's mail about this item carries action links."""
    return context.item.kind == "request" and recipient.audience in PARTNER_AUDIENCES


def stale_reason(event: DeadlineReminder, context: ReminderContext) -> str | None:
    """Why a reminder must no longer go out, as of the commitments service's answer; None while it is current."""
    deadline = context.deadline
    if deadline is None:
        return "échéance supprimée"
    if deadline.version != event.deadline_version:
        return (f"échéance modifiée depuis le rappel (version {event.deadline_version} → {deadline.version}, "
                f"désormais le {deadline.due_on.isoformat()})")
    if deadline.met_on is not None:
        return f"échéance tenue le {deadline.met_on.isoformat()}"
    if not deadline.reminders_active:
        return f"plus de rappel pour cet élément (statut « {context.item.status} »)"
    return None


class Cancelled(Exception):
    """Nothing to send any more; the reason is kept on the delivery."""

    def __init__(self, reason: str, parts: dict[uuid.UUID, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.parts = parts or {}


class Refused(Exception):
    """The message builder refused an address or a header: a permanent failure, reported like a 5xx."""

    def __init__(self, reason: str, owners: list[Recipient]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.owners = owners


# Batches handed over by the consumer that may wait in memory for the sender (a few megabytes at most: a row
# and its parsed event, 2 kB or so, a hundred rows a batch); beyond, rows wait in the table.
HANDOVER_BATCHES = 20

ContextKey: TypeAlias = tuple[uuid.UUID, uuid.UUID | None, tuple[str, ...]]
# One batch's rendered reminders, by everything their rendering depends on but the action links.
Drafts: TypeAlias = dict[tuple[object, ...], tuple[ReminderContext, ReminderDraft]]


def context_key(item_id: uuid.UUID, deadline_id: uuid.UUID | None, audiences: Sequence[str]) -> ContextKey:
    """What one reminder-context answer is about: the same key is the same question."""
    return item_id, deadline_id, tuple(sorted(set(audiences)))


def reminder_audiences(event: DeadlineReminder) -> list[str]:
    """The audiences a reminder's context is asked for: the event's, and the city owner (told if it fails)."""
    return [*event.audience, "city_owner"]


class FreshContexts:
    """Reminder contexts the consumer has just received, for the sender to render with rather than ask the
    commitments service the same question again a moment later. An answer older than `max_age_seconds` is
    never used (retries, restarts, digests ask again), so a change in the commitments service reaches the
    mails as before, give or take that age: of the order of the time a batch already takes to send."""

    def __init__(self, max_age_seconds: float = 2.0, timer: Callable[[], float] = time.monotonic) -> None:
        self.max_age_seconds = max_age_seconds
        self.timer = timer
        self._answers: dict[ContextKey, tuple[float, ReminderContext]] = {}

    def put(self, key: ContextKey, context: ReminderContext) -> None:
        now = self.timer()
        if len(self._answers) >= 1000:  # forget what has aged out rather than grow
            self._answers = {k: v for k, v in self._answers.items() if now - v[0] <= self.max_age_seconds}
        self._answers[key] = (now, context)

    def get(self, key: ContextKey) -> ReminderContext | None:
        found = self._answers.get(key)
        if found is None or self.timer() - found[0] > self.max_age_seconds:
            return None
        return found[1]


@dataclass
class Attempt:
    """What happened to one claimed delivery."""

    result: SendResult | None  # None: nothing to send any more (cancelled)
    reply: str
    # City owners to tell when a reminder fails for good.
    owners: list[Recipient] = field(default_factory=list)
    # Reminders of a digest dropped as no longer current, with the reason.
    cancelled_parts: dict[uuid.UUID, str] = field(default_factory=dict)


@dataclass
class Claim:
    """A batch this sender holds: the rows, their attempt number as claimed, and the lease they carry (the
    fence: an outcome is recorded only where both still match)."""

    rows: list[ClaimedDelivery]
    attempts: dict[uuid.UUID, int]
    lease_until: datetime
    digest_parts: dict[uuid.UUID, list[Delivery]]
    # The reminders as the consumer parsed them, by delivery id (a batch it handed over): not parsed again.
    events: dict[uuid.UUID, DeadlineReminder] = field(default_factory=dict)


class DeliverySender:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: NotificationsSettings,
                 clock: Clock, commitments: CommitmentsClient, smtp: SmtpPool,
                 calendar: WorkingCalendar | None = None, action_links: ActionLinks | None = None) -> None:
        self.sessionmaker = sessionmaker
        self.fresh = FreshContexts()
        self.settings = settings
        self.clock = clock
        self.commitments = commitments
        self.smtp = smtp
        # The installation's calendar (use_calendar at the process's start), not a default one.
        self.calendar = calendar or default_calendar()
        self.action_links = action_links or default_action_links()
        self.domain = settings.message_id_domain
        self._wake = asyncio.Event()
        # Mails of a batch being built or sent at once: one on each connection and one ready behind it. Each
        # is built just before a connection frees up, while the SMTP server reads the others, rather than the
        # whole batch first while the server waits (about 10% more mails a second in bench/).
        self._building = asyncio.Semaphore(2 * smtp.size)
        # Batches the consumer wrote already claimed and handed over (see take_over), oldest first.
        self._handed: collections.deque[Claim] = collections.deque()

    @property
    def lease(self) -> timedelta:
        """How long a claim holds its rows (SENDER_LEASE_SECONDS)."""
        return timedelta(seconds=self.settings.sender_lease_seconds)

    def prepare(self) -> None:
        """Load now what the first mail would otherwise wait for: the compiled templates and the holiday tables."""
        load_templates()
        self.calendar.is_working_day(paris_today(self.clock))

    def wake(self) -> None:
        """New deliveries are committed: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send due deliveries until `stop` is set. A batch's outcomes are committed while the next batch goes
        out (one commit in flight at a time), so the SMTP connections do not sit idle meanwhile."""
        recording: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                # Cleared before looking, not after: a wake() during the pass makes the wait below return at
                # once instead of leaving rows committed meanwhile for the next poll.
                self._wake.clear()
                try:
                    batch = await self._send_batch()
                except Exception:  # noqa: BLE001 - the database or the network hiccuped: try again shortly
                    logger.exception("sender pass failed")
                    batch = None
                if recording is not None:  # one commit in flight at a time; done by now, as a rule
                    await recording
                    recording = None
                if batch is not None:
                    recording = asyncio.create_task(self._record_or_log(*batch))
                    continue
                await self._idle(stop)
        finally:
            if recording is not None:
                await recording

    async def _record_or_log(self, claim: Claim, attempts: dict[uuid.UUID, Attempt]) -> None:
        try:
            await self.record(claim, attempts)
        except Exception:  # noqa: BLE001 - the rows keep their lease and come back when it lapses
            logger.exception("could not record the outcomes of %d deliveries", len(claim.rows))

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until wake(), `stop` or the next poll."""
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waiters, timeout=self.settings.sender_poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    def claim_for_handover(self) -> datetime | None:
        """The lease for the deliveries the consumer is about to write, to write them claimed and hand them
        over (take_over) rather than have them read back by a claim; None while HANDOVER_BATCHES batches
        already wait in memory: the new rows are then written pending and claimed from the table as usual."""
        if len(self._handed) >= HANDOVER_BATCHES:
            return None
        return self.clock.now() + self.lease

    def take_over(self, rows: Sequence[ClaimedDelivery], events: dict[uuid.UUID, DeadlineReminder],
                  lease_until: datetime) -> None:
        """Deliveries committed already claimed until `lease_until` (claim_for_handover): sent next, ahead of
        the table. Should this process die first, they come back from the table when the lease lapses."""
        batch = self.settings.sender_batch_size
        for start in range(0, len(rows), batch):
            chunk = list(rows[start:start + batch])
            self._handed.append(Claim(chunk, {row.id: row.attempts for row in chunk}, lease_until, {},
                                      {row.id: events[row.id] for row in chunk if row.id in events}))
        if rows:
            self.wake()

    async def _handed_over(self) -> Claim | None:
        """The oldest handed-over batch. One that waited a third of its lease or more (a slow SMTP server) has
        its lease renewed first, keeping only the rows still held, since the renewal during the send comes a
        third of a lease after its start."""
        while self._handed:
            claim = self._handed.popleft()
            now = self.clock.now()
            if claim.lease_until - now > self.lease * 2 / 3:
                return claim
            renewed = now + self.lease
            async with self.sessionmaker() as session, session.begin():
                held = await repository.renew_lease(session, ids_of(claim.rows), claim.lease_until, renewed)
            rows = [row for row in claim.rows if row.id in held]
            if rows:
                return Claim(rows, {row.id: claim.attempts[row.id] for row in rows}, renewed, {}, claim.events)
        return None

    async def send_due(self) -> int:
        """One pass: claim a batch of due deliveries (or take a handed-over one), send them, record the outcomes;
        returns how many."""
        batch = await self._send_batch()
        if batch is None:
            return 0
        await self.record(*batch)
        return len(batch[0].rows)

    async def _send_batch(self) -> tuple[Claim, dict[uuid.UUID, Attempt]] | None:
        """Claim a batch (or take a handed-over one) and send it: what happened to each, not yet recorded."""
        claim = await self._handed_over() or await self.claim()
        if claim is None:
            return None
        done = asyncio.Event()
        renewing = asyncio.create_task(self._renew_lease(claim, done))
        try:
            attempts = await self.attempt(claim)
        finally:
            done.set()
            await renewing  # never mid-commit when the outcomes are recorded
        return claim, attempts

    async def claim(self) -> Claim | None:
        """Claim a batch of due deliveries for the lease's duration (committed before anything is sent)."""
        now = self.clock.now()
        lease_until = now + self.lease
        async with self.sessionmaker() as session, session.begin():
            skip_locked = session.bind.dialect.name == "postgresql"
            rows = await repository.claim_due(session, now, lease_until, self.settings.sender_batch_size, skip_locked)
            if not rows:
                return None
            digest_parts = {row.id: list(await repository.in_digest(session, row.id))
                            for row in rows if row.kind == DeliveryKind.DIGEST}
        return Claim(rows, {row.id: row.attempts for row in rows}, lease_until, digest_parts)

    async def _renew_lease(self, claim: Claim, done: asyncio.Event) -> None:
        """Push the batch's lease forward every third of it until `done`: a slow SMTP server (a 30 s timeout
        per command, a few connections for a whole batch) must not let another sender take the rows over."""
        every = self.lease.total_seconds() / 3
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=every)
            if done.is_set():
                return
            renewed = self.clock.now() + self.lease
            try:
                async with self.sessionmaker() as session, session.begin():
                    await repository.renew_lease(session, ids_of(claim.rows), claim.lease_until, renewed)
            except Exception:  # noqa: BLE001 - the lease still runs; the fence guards what is recorded
                logger.exception("could not renew the lease of a sender batch")
                continue
            claim.lease_until = renewed

    async def attempt(self, claim: Claim) -> dict[uuid.UUID, Attempt]:
        """Render and send every claimed delivery; what happened to each."""
        contexts: dict[ContextKey, asyncio.Future[ReminderContext | None]] = {}

        async def context_for(item_id: uuid.UUID, deadline_id: uuid.UUID | None, audiences: Sequence[str]
                              ) -> ReminderContext | None:
            # Several recipients of one event share one request to the commitments service, and an answer the
            # consumer has just received is not asked for again.
            key = context_key(item_id, deadline_id, audiences)
            if key not in contexts:
                fresh = self.fresh.get(key)
                if fresh is not None:
                    return fresh
                contexts[key] = asyncio.ensure_future(self.commitments.reminder_context(item_id, deadline_id, key[2]))
            return await contexts[key]

        drafts: Drafts = {}
        attempts = await asyncio.gather(*(self._attempt(row, claim.digest_parts.get(row.id, []),
                                                        claim.events.get(row.id), context_for, drafts)
                                          for row in claim.rows))
        return dict(zip(ids_of(claim.rows), attempts, strict=True))

    async def _attempt(self, row: ClaimedDelivery, parts: list[Delivery], event: DeadlineReminder | None,
                       context_for: Callable[..., Awaitable[ReminderContext | None]], drafts: Drafts) -> Attempt:
        async with self._building:  # built just in time (see __init__)
            return await self._build_and_send(row, parts, event, context_for, drafts)

    async def _build_and_send(self, row: ClaimedDelivery, parts: list[Delivery], event: DeadlineReminder | None,
                              context_for: Callable[..., Awaitable[ReminderContext | None]], drafts: Drafts
                              ) -> Attempt:
        try:
            built = await self._build(row, parts, event, context_for, drafts)
        except ServiceUnavailable as exc:
            return Attempt(SendResult.TEMPORARY, exc.detail)
        except ContextRefused as exc:  # a revoked service key, say: worth trying again once it is fixed
            return Attempt(SendResult.TEMPORARY, f"Service des engagements : refus {exc}"[:1000])
        except Cancelled as exc:
            return Attempt(None, exc.reason, cancelled_parts=exc.parts)
        except Refused as exc:  # an address or header the message builder refuses: sending cannot help
            return Attempt(SendResult.PERMANENT, f"message refusé avant envoi : {exc.reason}"[:1000], exc.owners)
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the other deliveries of the batch
            logger.exception("could not build delivery %s", row.id)
            return Attempt(SendResult.TEMPORARY, f"{type(exc).__name__}: {exc}"[:1000])
        if built is None:
            return Attempt(None, "plus de destinataire (contact effacé, sans adresse, ou élément supprimé)")
        mail, owners, cancelled_parts = built
        outcome: SendOutcome = await self.smtp.send(mail)
        return Attempt(outcome.result, outcome.reply, owners, cancelled_parts)

    async def _build(self, row: ClaimedDelivery, parts: list[Delivery], parsed: DeadlineReminder | None,
                     context_for: Callable[..., Awaitable[ReminderContext | None]], drafts: Drafts
                     ) -> tuple[OutgoingMail, list[Recipient], dict[uuid.UUID, str]] | None:
        now = self.clock.now()
        today = paris_today(self.clock)
        cancelled_parts: dict[uuid.UUID, str] = {}
        if row.kind == DeliveryKind.REMINDER:
            event = parsed or _reminder_event(row)
            context = await context_for(event.item_id, event.deadline_id, reminder_audiences(event))
            if context is None:
                return None
            stale = stale_reason(event, context)
            if stale is not None:
                raise Cancelled(stale)
            recipient = _find(context, row.contact_id, event.audience)
            if recipient is None:
                return None
            links = (self.action_links(self.settings, event.item_id, row.contact_id, event.deadline_id, now)
                     if takes_action_links(context, recipient) else {})
            keys = link_keys(links)
            # Every input of the rendering but the links (signed anew per mail): the same key renders the same.
            # The context is the very object answered for this batch (kept alive in the value, so its id is not
            # reused); the recipient is one of its own.
            draft_key = (id(context), recipient.contact_id, str(recipient.audience), type(event), event.kind,
                         event.due_on, event.escalation, tuple(event.audience), today, keys)
            cached = drafts.get(draft_key)
            if cached is None:
                # The city owner was asked for in case of failure; the mail itself shows the event's audience.
                shown = context.model_copy(update={"recipients": [r for r in context.recipients
                                                                  if r.audience in event.audience]})
                cached = drafts[draft_key] = (context, reminder_draft(event, shown, recipient, today, self.calendar,
                                                                      keys))
            rendered = cached[1].finish(links, row.message_id, self.domain)
            owners = [r for r in context.recipients if r.audience == "city_owner"]
        elif row.kind == DeliveryKind.DIGEST:
            entries: list[tuple[DeadlineReminder, ReminderContext]] = []
            links_per_item: dict[uuid.UUID, dict[str, str]] = {}
            recipient = None
            for part in parts:
                event = _reminder_event(part)
                context = await context_for(event.item_id, event.deadline_id, event.audience)
                found = _find(context, row.contact_id, event.audience) if context is not None else None
                if context is None or found is None:
                    continue
                stale = stale_reason(event, context)
                if stale is not None:
                    cancelled_parts[part.id] = stale
                    continue
                recipient = found
                entries.append((event, context))
                if takes_action_links(context, found):
                    links_per_item[event.item_id] = self.action_links(self.settings, event.item_id, row.contact_id,
                                                                      event.deadline_id, now)
            if recipient is None:
                if cancelled_parts:
                    raise Cancelled("plus aucun rappel en cours dans ce récapitulatif", cancelled_parts)
                return None
            rendered = render_digest(entries, recipient, today, self.calendar, links_per_item, row.message_id,
                                     self.domain)
            owners = []  # a digest spans several items: no single owner to tell
        else:
            report = row.event or {}
            item_id = uuid.UUID(report["item_id"])
            deadline_id = uuid.UUID(report["deadline_id"]) if report.get("deadline_id") else None
            failed_audience = report.get("failed_audience") or "liaison"
            context = await context_for(item_id, deadline_id, ["city_owner", failed_audience])
            if context is None:
                return None
            recipient = _find(context, row.contact_id, ["city_owner"])
            failed = _find(context, uuid.UUID(report["failed_contact_id"]), [failed_audience])
            if recipient is None or failed is None:
                return None
            rendered = render_failure_report(context, failed, report.get("smtp_reply", ""), today,
                                             row.message_id, self.domain)
            owners = []  # a failed report is not reported again
        try:
            mail = build_mail(rendered, self.settings.mail_sender, recipient.email, recipient.display_name, date=now)
        except ValueError as exc:
            raise Refused(str(exc), owners) from exc
        return mail, owners, cancelled_parts

    async def record(self, claim: Claim, attempts: dict[uuid.UUID, Attempt]) -> None:
        """Record the outcomes on the rows this claim still holds; a row another sender has taken over since
        (our lease lapsed) is left as that sender leaves it."""
        now = self.clock.now()
        settings = self.settings
        sent = [delivery_id for delivery_id, attempt in attempts.items() if attempt.result is SendResult.SENT]
        others = [delivery_id for delivery_id, attempt in attempts.items() if attempt.result is not SendResult.SENT]
        reported = False
        async with self.sessionmaker() as session, session.begin():
            # Read before the batch's sent rows leave `pending`, and only when some outcome is not the usual one.
            owned: dict[uuid.UUID, Delivery] = {}
            if others or any(attempt.cancelled_parts for attempt in attempts.values()):
                for_update = session.bind.dialect.name == "postgresql"
                rows = await repository.still_claimed(session, ids_of(claim.rows), claim.lease_until, for_update)
                owned = {row.id: row for row in rows if row.attempts == claim.attempts[row.id]}
            # The usual outcome in one statement per attempt number (one, as a rule) for the whole batch.
            by_attempt: dict[int, list[uuid.UUID]] = {}
            for delivery_id in sent:
                by_attempt.setdefault(claim.attempts[delivery_id], []).append(delivery_id)
            for attempt_number, ids in by_attempt.items():
                await repository.mark_sent(session, ids, now, lease_until=claim.lease_until, attempts=attempt_number)
            for delivery_id, attempt in attempts.items():
                if attempt.cancelled_parts and delivery_id in owned:
                    await repository.cancel_parts(session, delivery_id, attempt.cancelled_parts, now)
            for delivery_id in others:
                row = owned.get(delivery_id)
                if row is None:
                    continue  # no longer ours: another sender took it over when our lease lapsed
                attempt = attempts[delivery_id]
                row.updated_at = now
                row.last_error = attempt.reply[:1000]
                if attempt.result is None:
                    row.status, row.next_attempt_at = DeliveryStatus.CANCELLED.value, None
                    continue
                gave_up = (now - row.retry_since).total_seconds() >= settings.retry_give_up_seconds
                if attempt.result is SendResult.TEMPORARY and not gave_up:
                    delay = min(settings.retry_initial_seconds * settings.retry_multiplier ** max(row.attempts - 1, 0),
                                settings.retry_max_interval_seconds)
                    row.next_attempt_at = now + timedelta(seconds=delay)
                    continue
                if gave_up and attempt.result is SendResult.TEMPORARY:
                    row.last_error = f"abandon après {row.attempts} tentatives : {attempt.reply}"[:1000]
                row.status, row.failed_at, row.next_attempt_at = DeliveryStatus.FAILED.value, now, None
                if row.kind == DeliveryKind.REMINDER and attempt.owners:
                    await service.record_failure_reports(session, self.clock, self.domain, row, attempt.owners)
                    reported = True
        if reported:
            self.wake()


def ids_of(rows: Sequence[ClaimedDelivery | Delivery]) -> list[uuid.UUID]:
    return [row.id for row in rows]


def _reminder_event(row: ClaimedDelivery | Delivery) -> DeadlineReminder:
    return EventEnvelope.model_validate(row.event).parsed()  # type: ignore[return-value]


def _find(context: ReminderContext, contact_id: uuid.UUID, audiences: Sequence[str]) -> Recipient | None:
    return next((r for r in context.recipients if r.contact_id == contact_id and r.audience in audiences), None)
