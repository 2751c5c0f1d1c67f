"""The deadline scanner: sends each due reminder step once, through the outbox, as of a clock.

A tick claims the schedules whose `next_fire_at` has come (indexed; on PostgreSQL `FOR UPDATE SKIP LOCKED`, so
replicas share the work; SQLite has a single writer), recomputes each one from its rules, records one firing
row under a unique reminder key and its event in the outbox, moves `next_fire_at` to the next step, and commits
per batch. A crash loses nothing (the batch rolls back and is claimed again) and sends nothing twice (the
key is unique). When steps were missed (no scanner ran for days), only the latest one is sent: its content
(level, audience) is the current one, and a burst of stale reminders would only confuse the reader; the
firing row counts the steps it superseded. Outside the sending window a missed step waits for its opening.
Each row is handled under its own savepoint: one that raises is logged, rolled back and put off, the rest of
the batch goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.commitments.deadlines.models import Deadline
from services.commitments.items import service as items_service
from services.commitments.items.lifecycle import Status
from services.commitments.items.models import Item
from services.commitments.outbox.recorder import record_event
from services.commitments.reminders import repository
from services.commitments.reminders import rules as r
from services.commitments.reminders.models import ReminderSchedule
from services.commitments.reminders.service import is_active
from shared.auth import SYSTEM
from shared.calendar import WorkingCalendar, default_calendar
from shared.clock import Clock, FixedClock
from shared.events import EventData
from shared.events.commitments import DeadlineApproaching, DeadlineDue, DeadlineEscalated, DeadlineOverdue

logger = logging.getLogger(__name__)

EVENT_CLASSES = {"deadline.approaching": DeadlineApproaching, "deadline.due": DeadlineDue,
                 "deadline.overdue": DeadlineOverdue, "deadline.escalated": DeadlineEscalated}
_WAITING = (Status.SENT.value, Status.ACKNOWLEDGED.value)


@dataclass
class TickResult:
    fired: int = 0
    skipped: int = 0  # missed steps superseded by a later one
    recomputed: int = 0  # schedules claimed with nothing to send (new date, rules, status) and recomputed
    failed: int = 0  # schedules that raised: rolled back to their savepoint and put off (see `retry_failed_after`)
    batches: int = 0
    marked_unanswered: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class _Firing:
    row: dict[str, object]
    event: EventData
    step: r.Step
    superseded: int


@dataclass
class DeadlineScanner:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    calendar: WorkingCalendar = field(default_factory=default_calendar)
    batch_size: int = 500
    # A schedule that raised (unexpected data) is looked at again this much later, so the others go on.
    retry_failed_after: timedelta = timedelta(hours=1)
    # Awaited inside each batch's transaction with the number of firings it is about to write (the crash test
    # injects a pause there: `scan` with SCANNER_PAUSE_IN_BATCH_SECONDS).
    in_batch: Callable[[int], Awaitable[None]] | None = None

    async def tick(self) -> TickResult:
        """Handle every schedule due as of the clock's instant, batch by batch."""
        now = self.clock.now()
        result = TickResult()
        while True:
            async with self.sessionmaker() as session, session.begin():
                claimed = await self._batch(session, now, result)
            if claimed < self.batch_size:
                return result

    async def _batch(self, session: AsyncSession, now: datetime, result: TickResult) -> int:
        rows = await repository.claim_due(session, now, self.batch_size)
        if not rows:
            return 0
        result.batches += 1
        item_ids = {item.id for _, _, item in rows}
        leads = await repository.lead_partners(session, item_ids)
        overrides = await repository.rule_sets_for(session, {item.plan_id for _, _, item in rows},
                                                   set(leads.values()), item_ids)
        firings: list[dict[str, object]] = []
        events: dict[str, EventData] = {}
        unanswered: set[uuid.UUID] = set()
        failed: list[uuid.UUID] = []
        for schedule, deadline, item in rows:
            deadline_id = deadline.id  # read before a failed savepoint expires what it touched
            try:
                # One savepoint per row: a row that raises (an unknown status, a malformed override) is rolled
                # back alone and put off, instead of failing the batch, which would be claimed again in the same
                # order at every tick and stop every reminder behind it.
                async with session.begin_nested():
                    lead = leads.get(item.id)
                    rules = r.merge(overrides.get(("plan", item.plan_id)),
                                    overrides.get(("partner", lead)) if lead else None,
                                    overrides.get(("item", item.id)))
                    fired = self._advance(schedule, deadline, item, lead, rules, now)
                    await session.flush()
            except Exception:  # isolate the bad row; the others go on
                logger.exception("reminder schedule of deadline %s failed; looked at again after %s",
                                 deadline_id, self.retry_failed_after)
                failed.append(deadline_id)
                continue
            if fired is None:
                result.recomputed += 1
                continue
            firings.append(fired.row)
            events[str(fired.row["reminder_key"])] = fired.event
            result.skipped += fired.superseded
            if deadline.kind == "response" and fired.step.offset > 0 and item.status in _WAITING:
                unanswered.add(item.id)
        if failed:
            result.failed += len(failed)
            await repository.put_off(session, failed, now + self.retry_failed_after)
        if self.in_batch is not None:
            await self.in_batch(len(firings))
        inserted = await repository.insert_firings(session, firings)
        for key in inserted:
            record_event(session, events[key], SYSTEM, self.clock)
        result.fired += len(inserted)
        if len(inserted) < len(firings):
            logger.warning("%d reminder(s) had already fired; not sent again", len(firings) - len(inserted))
        if unanswered:
            # Silence is never acceptance: past its response deadline a waiting request is « sans réponse ».
            marked = await items_service.mark_unanswered(session, SYSTEM, self.clock, only=unanswered)
            result.marked_unanswered.extend(item.id for item in marked)
        return len(rows)

    def _advance(self, schedule: ReminderSchedule, deadline: Deadline, item: Item, lead: uuid.UUID | None,
                 rules: r.Rules, now: datetime) -> _Firing | None:
        """The latest pending step of one schedule to fire (with how many earlier steps it superseded), or
        None when there is nothing to send and only its next instant was recomputed."""
        if schedule.deadline_version != deadline.version:  # moved without the hook: re-arm, send nothing past
            schedule.deadline_version, schedule.arming, schedule.anchor_on = deadline.version, 0, None
            schedule.escalation, schedule.armed_at, schedule.handled_until = "none", now, now
        if not is_active(deadline.kind, deadline.met_on, item.status):
            schedule.next_fire_at = None
            return None
        steps = r.schedule(deadline.due_on, rules, self.calendar, schedule.anchor_on)
        due = r.pending(steps, schedule.handled_until, now)
        if not due:
            schedule.next_fire_at = r.next_fire_at(steps, max(schedule.handled_until, now))
            return None
        if not r.in_window(now, rules, self.calendar):
            schedule.next_fire_at = r.next_window_opening(now, rules, self.calendar)
            return None
        step = due[-1]
        key = r.reminder_key(deadline.id, schedule.deadline_version, schedule.arming, step.name)
        event_type = step.event_type(schedule.escalation)
        row = {"id": uuid.uuid4(), "reminder_key": key, "deadline_id": deadline.id, "item_id": item.id,
               "deadline_version": schedule.deadline_version, "arming": schedule.arming, "step": step.name,
               "event_type": event_type, "escalation": step.escalation, "fire_at": step.fire_at,
               "fired_at": now, "skipped_steps": len(due) - 1}
        event = EVENT_CLASSES[event_type](
            reminder_key=key, deadline_id=deadline.id, item_id=item.id, plan_id=item.plan_id,
            kind=deadline.kind, due_on=deadline.due_on, deadline_version=schedule.deadline_version,
            step=step.name, offset_working_days=step.offset, escalation=step.escalation,
            audience=list(step.audience(item.kind)), partner_ids=[lead] if lead and item.kind == "request" else [],
            fire_at=step.fire_at)
        if r.ESCALATION_RANK[step.escalation] > r.ESCALATION_RANK[schedule.escalation]:
            schedule.escalation = step.escalation
        schedule.handled_until = now
        schedule.next_fire_at = r.next_fire_at(steps, now)
        return _Firing(row, event, step, len(due) - 1)

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        """Tick until `stop` is set; a failed tick (database away) is retried on the next turn."""
        while not stop.is_set():
            try:
                result = await self.tick()
                if result.fired or result.marked_unanswered or result.failed:
                    logger.info("scanner tick: %d reminder(s) sent, %d superseded, %d request(s) now unanswered, "
                                "%d schedule(s) failed", result.fired, result.skipped, len(result.marked_unanswered),
                                result.failed)
            except Exception:  # keep scanning; the batch rolled back and will be claimed again
                logger.exception("scanner tick failed, will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)


def clock_as_of(as_of: datetime | None, fallback: Clock) -> Clock:
    """A fixed clock at `as_of` (operators replaying a day, tests), else the fallback."""
    return FixedClock(as_of) if as_of is not None else fallback
