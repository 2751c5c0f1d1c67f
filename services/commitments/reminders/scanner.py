"""The deadline scanner: sends each due reminder step once, through the outbox, as of a clock.

A tick claims the schedules whose `next_fire_at` has come (indexed; on PostgreSQL `FOR UPDATE SKIP LOCKED`, so
replicas share the work; SQLite has a single writer), recomputes each one from its rules, records one firing
row under a unique reminder key and its event in the outbox, moves `next_fire_at` to the next step, and commits
per batch. A crash loses nothing (the batch rolls back and is claimed again) and sends nothing twice (the
key is unique). When steps were missed (no scanner ran for days), only the latest one is sent: its content
(level, audience) is the current one, and a burst of stale reminders would only confuse the reader; the
firing row counts the steps it superseded. Outside the sending window a missed step waits for its opening.

A bad row never blocks the others. Each schedule is first computed in memory (a row whose data makes that raise,
an unknown status or a malformed override, is set aside). The batch is then written whole under one savepoint,
in a few bulk statements; only if that raises is it rolled back to the savepoint and written again row by row,
each under its own savepoint. The rows that raised are logged and put off (`retry_failed_after`): claimed again
in the same order at every tick, they would otherwise stop every reminder behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.commitments.items import service as items_service
from services.commitments.items.lifecycle import Status
from services.commitments.outbox.recorder import record_events
from services.commitments.reminders import repository
from services.commitments.reminders import rules as r
from services.commitments.reminders.repository import DueSchedule
from services.commitments.reminders.service import is_active
from shared.auth import SYSTEM
from shared.calendar import WorkingCalendar, default_calendar
from shared.clock import Clock, FixedClock
from shared.events import EventData
from shared.events.commitments import DeadlineApproaching, DeadlineDue, DeadlineEscalated, DeadlineOverdue
from shared.telemetry import extract_trace_context, inject_trace_context

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

EVENT_CLASSES = {
    "deadline.approaching": DeadlineApproaching,
    "deadline.due": DeadlineDue,
    "deadline.overdue": DeadlineOverdue,
    "deadline.escalated": DeadlineEscalated,
}
_WAITING = (Status.SENT.value, Status.ACKNOWLEDGED.value)
_FAILED = "reminder schedule of deadline %s failed; looked at again after %s"


@dataclass
class TickResult:
    fired: int = 0
    skipped: int = 0  # missed steps superseded by a later one
    recomputed: int = 0  # schedules claimed with nothing to send (new date, rules, status) and recomputed
    failed: int = 0  # schedules that raised: left as they were and put off (see `retry_failed_after`)
    batches: int = 0
    marked_unanswered: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class Firing:
    key: str  # the reminder key, unique: a step of an armed deadline version fires once
    item_id: uuid.UUID
    row: dict[str, object]  # the reminder_firings row
    event: EventData
    superseded: int  # earlier missed steps this one stands for
    unanswered: bool  # past a waiting request's response deadline: the request becomes « sans réponse »
    # The trace context of the request that dated the deadline (kept on its schedule): the event carries it on.
    trace_context: dict[str, str] | None = None


@dataclass(frozen=True)
class Advance:
    """What one claimed schedule becomes: its new state (a row of the bulk update) and the step it fires, if any."""

    deadline_id: uuid.UUID
    schedule: dict[str, object]
    firing: Firing | None


@dataclass
class _Written:
    fired: int = 0
    skipped: int = 0
    recomputed: int = 0
    marked: list[uuid.UUID] = field(default_factory=list)

    def add(self, other: _Written) -> None:
        self.fired += other.fired
        self.skipped += other.skipped
        self.recomputed += other.recomputed
        self.marked.extend(other.marked)


@dataclass
class DeadlineScanner:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    calendar: WorkingCalendar = field(default_factory=default_calendar)
    batch_size: int = 500
    # A schedule that raised (unexpected data) is looked at again this much later, so the others go on.
    retry_failed_after: timedelta = timedelta(hours=1)
    # Awaited inside each batch's transaction, once, before anything is written, with the number of firings it
    # is about to write (the crash test injects a pause there: tests/services/commitments/workers/faults.py).
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
        item_ids = {row.item_id for row in rows}
        leads = await repository.lead_partners(session, item_ids)
        overrides = await repository.rule_sets_for(
            session, {row.plan_id for row in rows}, set(leads.values()), item_ids
        )
        advances: list[Advance] = []
        failed: list[uuid.UUID] = []
        for row in rows:
            try:  # in memory only: a row that raises here has written nothing
                lead = leads.get(row.item_id)
                rules = r.merge(
                    overrides.get(("plan", row.plan_id)),
                    overrides.get(("partner", lead)) if lead else None,
                    overrides.get(("item", row.item_id)),
                )
                advances.append(self.advance(row, lead, rules, now))
            except Exception:  # isolate the bad row; the others go on
                logger.exception(_FAILED, row.deadline_id, self.retry_failed_after)
                failed.append(row.deadline_id)
        if self.in_batch is not None:
            await self.in_batch(sum(advance.firing is not None for advance in advances))
        try:
            async with session.begin_nested():  # the batch whole: a few bulk statements
                written = await self._write(session, advances)
        except Exception as error:  # noqa: BLE001 - retried row by row, which logs the culprit's traceback
            logger.warning(
                "a batch of %d reminder schedule(s) failed whole (%s: %s); written again row by row",
                len(advances),
                type(error).__name__,
                error,
            )
            written = _Written()
            for advance in advances:
                try:
                    async with session.begin_nested():
                        one = await self._write(session, [advance])
                except Exception:  # isolate the bad row; the others go on
                    logger.exception(_FAILED, advance.deadline_id, self.retry_failed_after)
                    failed.append(advance.deadline_id)
                    continue
                written.add(one)
        if failed:
            result.failed += len(failed)
            await repository.put_off(session, failed, now + self.retry_failed_after)
        result.fired += written.fired
        result.skipped += written.skipped
        result.recomputed += written.recomputed
        result.marked_unanswered.extend(written.marked)
        return len(rows)

    async def _write(self, session: AsyncSession, advances: Sequence[Advance]) -> _Written:
        """Write these schedules' new states, their firing rows and events, and the requests they leave
        unanswered; flushed, so that whatever raises does so inside the caller's savepoint."""
        await repository.save_schedules(session, [advance.schedule for advance in advances])
        firings = [advance.firing for advance in advances if advance.firing is not None]
        inserted = await repository.insert_firings(session, [firing.row for firing in firings])
        await self._record_events(session, [firing for firing in firings if firing.key in inserted])
        if len(inserted) < len(firings):
            logger.warning("%d reminder(s) had already fired; not sent again", len(firings) - len(inserted))
        written = _Written(
            fired=len(inserted),
            skipped=sum(firing.superseded for firing in firings),
            recomputed=len(advances) - len(firings),
        )
        unanswered = {firing.item_id for firing in firings if firing.unanswered}
        if unanswered:
            # Silence is never acceptance: past its response deadline a waiting request is « sans réponse ».
            marked = await items_service.mark_unanswered(session, SYSTEM, self.clock, only=unanswered)
            written.marked = [item.id for item in marked]
        await session.flush()
        return written

    async def _record_events(self, session: AsyncSession, firings: Sequence[Firing]) -> None:
        """The one place the scanner records its events: an outbox row each, in the batch's transaction. Each
        event is fired in the trace of the request that dated its deadline; its outbox row carries it on."""
        headers: list[dict[str, str]] = []
        for firing in firings:
            with tracer.start_as_current_span(
                f"fire {firing.event.type}",
                context=extract_trace_context(firing.trace_context),
                attributes={"reminder.key": firing.key},
            ):
                headers.append(dict(inject_trace_context({})))
        await record_events(
            session, [firing.event for firing in firings], SYSTEM, self.clock, headers=headers
        )

    def advance(self, due: DueSchedule, lead: uuid.UUID | None, rules: r.Rules, now: datetime) -> Advance:
        """What one claimed schedule becomes at `now` (pure: nothing is written): its recomputed state, and the
        latest pending step to fire, if any, with how many earlier steps it supersedes."""
        version, arming, anchor_on = due.deadline_version, due.arming, due.anchor_on
        escalation, armed_at, handled_until = due.escalation, due.armed_at, due.handled_until
        if version != due.current_version:  # moved without the hook: re-arm, send nothing past
            version, arming, anchor_on = due.current_version, 0, None
            escalation, armed_at, handled_until = "none", now, now

        def state(next_fire_at: datetime | None) -> dict[str, object]:
            return {
                "deadline_id": due.deadline_id,
                "deadline_version": version,
                "arming": arming,
                "anchor_on": anchor_on,
                "armed_at": armed_at,
                "handled_until": handled_until,
                "escalation": escalation,
                "next_fire_at": next_fire_at,
            }

        if not is_active(due.kind, due.met_on, due.status):
            return Advance(due.deadline_id, state(None), None)
        steps = r.schedule(due.due_on, rules, self.calendar, anchor_on)
        pending = r.pending(steps, handled_until, now)
        if not pending:
            return Advance(due.deadline_id, state(r.next_fire_at(steps, max(handled_until, now))), None)
        if not r.in_window(now, rules, self.calendar):
            return Advance(due.deadline_id, state(r.next_window_opening(now, rules, self.calendar)), None)
        step = pending[-1]
        key = r.reminder_key(due.deadline_id, version, arming, step.name)
        event_type = step.event_type(escalation)
        row: dict[str, object] = {
            "id": uuid.uuid4(),
            "reminder_key": key,
            "deadline_id": due.deadline_id,
            "item_id": due.item_id,
            "deadline_version": version,
            "arming": arming,
            "step": step.name,
            "event_type": event_type,
            "escalation": step.escalation,
            "fire_at": step.fire_at,
            "fired_at": now,
            "skipped_steps": len(pending) - 1,
        }
        event = EVENT_CLASSES[event_type](
            reminder_key=key,
            deadline_id=due.deadline_id,
            item_id=due.item_id,
            plan_id=due.plan_id,
            kind=due.kind,
            due_on=due.due_on,
            deadline_version=version,
            step=step.name,
            offset_working_days=step.offset,
            escalation=step.escalation,
            audience=list(step.audience(due.item_kind)),
            partner_ids=[lead] if lead and due.item_kind == "request" else [],
            fire_at=step.fire_at,
        )
        if r.ESCALATION_RANK[step.escalation] > r.ESCALATION_RANK[escalation]:
            escalation = step.escalation
        handled_until = now
        unanswered = due.kind == "response" and step.offset > 0 and due.status in _WAITING
        return Advance(
            due.deadline_id,
            state(r.next_fire_at(steps, now)),
            Firing(key, due.item_id, row, event, len(pending) - 1, unanswered, due.trace_context),
        )

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        """Tick until `stop` is set; a failed tick (database away) is retried on the next turn."""
        while not stop.is_set():
            try:
                result = await self.tick()
                if result.fired or result.marked_unanswered or result.failed:
                    logger.info(
                        "scanner tick: %d reminder(s) sent, %d superseded, %d request(s) now unanswered, "
                        "%d schedule(s) failed",
                        result.fired,
                        result.skipped,
                        len(result.marked_unanswered),
                        result.failed,
                    )
            except Exception:  # keep scanning; the batch rolled back and will be claimed again
                logger.exception("scanner tick failed, will retry")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)


def clock_as_of(as_of: datetime | None, fallback: Clock) -> Clock:
    """A fixed clock at `as_of` (operators replaying a day, tests), else the fallback."""
    return FixedClock(as_of) if as_of is not None else fallback
