"""The sender loop: claims due deliveries (claims.py), composes each from the commitments service's answer of the
moment (compose.py), sends it over a small pool of SMTP connections (smtp.py) and records its outcome
(outcomes.py).

Each connection (a lane) sends one mail, and sends the next only once that mail's outcome is committed; it
composes the next meanwhile, which sends nothing. A worker killed at any moment thus leaves at most one mail per connection that the server accepted and the table does not say was
sent; its restart takes its claims back at once (claims.py) and sends those again, under the same Message-ID.
The rest of its batch had not reached SMTP: it goes out once. A worker asked to stop finishes the mails under
way and gives the rest of its batch back, due at once for whichever worker comes next."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.commitments_client import CommitmentsClient, ContextRefused
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries.claims import Claim, Claims, IdentityTaken
from services.notifications.deliveries.compose import (
    Cancelled,
    Composed,
    ContextRequests,
    MailComposer,
    Refused,
)
from services.notifications.deliveries.events import INVALID_ADDRESS, NO_RECIPIENT
from services.notifications.deliveries.models import Delivery
from services.notifications.deliveries.outcomes import Attempt, OutcomeRecorder
from services.notifications.deliveries.repository import ClaimedDelivery
from services.notifications.smtp import SendResult, SmtpPool
from shared.calendar import WorkingCalendar, default_calendar
from shared.clock import Clock
from shared.problems import ServiceUnavailable
from shared.telemetry import extract_trace_context

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


class DeliverySender:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: NotificationsSettings,
        clock: Clock,
        commitments: CommitmentsClient,
        smtp: SmtpPool,
        worker_id: str,
        calendar: WorkingCalendar | None = None,
    ) -> None:
        self.settings = settings
        self.commitments = commitments
        self.smtp = smtp
        self.lease = timedelta(seconds=settings.sender_lease_seconds)
        self.claims = Claims(sessionmaker, clock, worker_id, self.lease, settings.sender_batch_size)
        # The installation's calendar (use_calendar at the process's start), not a default one.
        self.composer = MailComposer(settings, clock, calendar or default_calendar())
        self.recorder = OutcomeRecorder(sessionmaker, settings, clock, on_new_deliveries=self.wake)
        self._wake = asyncio.Event()

    @property
    def calendar(self) -> WorkingCalendar:
        return self.composer.calendar

    def wake(self) -> None:
        """New deliveries are committed: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Take back what an earlier run of this worker held, then send due deliveries until `stop` is set."""
        while not stop.is_set():
            try:
                await self.claims.start()
                break
            except Exception:  # the database is not there yet: try again shortly
                logger.exception("sender could not start")
                await self._idle(stop)
        while not stop.is_set():
            # Cleared before looking, not after: a wake() during the pass makes the wait below return at once.
            self._wake.clear()
            try:
                claimed = await self.send_due(stop)
            except IdentityTaken:
                logger.error(
                    "another process started as sender %s: this one stops sending (give each replica its "
                    "own SENDER_WORKER_ID)",
                    self.claims.worker_id,
                )
                return
            except Exception:  # the database or the network hiccuped: try again shortly
                logger.exception("sender pass failed")
                claimed = 0
            if not claimed:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until wake(), `stop` or the next poll."""
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(
            waiters, timeout=self.settings.sender_poll_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()

    async def send_due(self, stop: asyncio.Event | None = None) -> int:
        """One pass: claim a batch of due deliveries, send them, each outcome recorded as it comes; returns how
        many were claimed."""
        claim = await self.claims.claim()
        if claim is None:
            return 0
        done = asyncio.Event()
        renewing = asyncio.create_task(self._renew_lease(claim, done))
        try:
            await self._send(claim, stop or asyncio.Event())
        finally:
            done.set()
            await renewing
        return len(claim.rows)

    async def _send(self, claim: Claim, stop: asyncio.Event) -> None:
        """Send a claimed batch over the pool, one lane per connection taking the next row as it is free. A lane
        composes its next mail while the outcome of its last one is being committed, and sends it only once that
        commit is done: at any moment at most one mail per lane is out without the table saying so."""
        contexts = ContextRequests(self.commitments)
        rows = iter(claim.rows)
        left: list[ClaimedDelivery] = []
        unrecorded = False

        async def record(row: ClaimedDelivery, attempt: Attempt, span: trace.Span) -> None:
            nonlocal unrecorded
            try:
                with trace.use_span(span, end_on_exit=True):
                    await self.recorder.record(claim, row, attempt)
            except Exception:  # the row keeps its claim: sent again after a restart or the lease
                logger.exception("could not record the outcome of delivery %s; the batch stops here", row.id)
                unrecorded = True  # sending more would only add mails the table does not know were sent

        async def lane() -> None:
            # The outcome of this lane's last mail, being committed.
            recording: asyncio.Task[None] | None = None
            for row in rows:
                if stop.is_set() or unrecorded:
                    left.append(row)
                    continue
                # In the trace the row was written in (the reminder's: from the request that dated the deadline).
                span = tracer.start_span(
                    f"deliver {row.kind}",
                    context=extract_trace_context(row.trace_context),
                    attributes={"delivery.id": str(row.id), "delivery.attempt": row.attempts},
                )
                with trace.use_span(span):
                    prepared = await self._prepare(row, claim.digest_parts.get(row.id, []), contexts)
                if recording is not None:
                    await recording
                    recording = None
                if stop.is_set() or unrecorded:  # composed, not sent: given back, or kept claimed (see below)
                    span.end()
                    left.append(row)
                    continue
                with trace.use_span(span):
                    attempt = prepared if isinstance(prepared, Attempt) else await self._deliver(prepared)
                span.set_attribute("delivery.result", attempt.result or "cancelled")
                recording = asyncio.create_task(record(row, attempt, span))
            if recording is not None:
                await recording

        await asyncio.gather(*(lane() for _ in range(self.smtp.size)))
        if left and not unrecorded:
            await self.claims.release(claim, left)

    async def _prepare(
        self, row: ClaimedDelivery, digest_parts: list[Delivery], contexts: ContextRequests
    ) -> Composed | Attempt:
        """The mail of `row`, or the outcome of a delivery that will not be sent this time."""
        try:
            composed = await self.composer.compose(row, digest_parts, contexts)
        except ServiceUnavailable as exc:
            return Attempt(SendResult.TEMPORARY, exc.detail)
        except ContextRefused as exc:  # a revoked service key, say: worth trying again once it is fixed
            return Attempt(SendResult.TEMPORARY, f"Service des engagements : refus {exc}"[:1000])
        except Cancelled as exc:
            return Attempt(None, exc.reason, cancelled_parts=exc.parts)
        except Refused as exc:  # an address or header the message builder refuses: sending cannot help
            return Attempt(
                SendResult.PERMANENT,
                f"message refusé avant envoi : {exc.reason}"[:1000],
                exc.owners,
                reason=INVALID_ADDRESS,
            )
        except Exception as exc:  # a bug must not stop the other deliveries of the batch
            logger.exception("could not build delivery %s", row.id)
            return Attempt(SendResult.TEMPORARY, f"{type(exc).__name__}: {exc}"[:1000])
        if composed is None:
            return Attempt(
                None,
                "plus de destinataire (contact effacé, sans adresse, ou élément supprimé)",
                reason=NO_RECIPIENT,
            )
        return composed

    async def _deliver(self, composed: Composed) -> Attempt:
        outcome = await self.smtp.send(composed.mail)
        return Attempt(outcome.result, outcome.reply, composed.owners, composed.cancelled_parts)

    async def _renew_lease(self, claim: Claim, done: asyncio.Event) -> None:
        """Push the batch's lease forward every third of it until `done`: a slow SMTP server (a 30 s timeout per
        command, a few connections for a whole batch) must not let another sender take the rows over."""
        every = self.lease.total_seconds() / 3
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=every)
            if done.is_set():
                return
            try:
                await self.claims.renew(claim)
            except Exception:  # the lease still runs; the fence guards what is recorded
                logger.exception("could not renew the lease of a sender batch")
