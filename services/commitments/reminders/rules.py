"""Reminder rules as data, and the schedule they give a deadline. Pure: no I/O, no clock.

A rule set is the defaults overridden, field group by field group, by the plan's, then the lead partner's,
then the item's overrides. A schedule is the list of steps of one deadline: working days before it (−10, −3,
−1), the day itself, then after it +1 and every 5 working days counted from the deadline (+5, +10 …), so that
the escalation steps (late at +10, very late at +20) fall on the grid. After the very-late step the reminders
go on for `repeats_after_very_late` more steps (2 by default: +25 and +30), then stop: past that point a
reminder adds nothing the city owner and the elected official have not already been told, and the item stays
listed as overdue. Each step fires at the opening of the sending window on its day (08:30 Europe/Paris),
stored in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from shared.calendar import WorkingCalendar
from shared.clock import PARIS

Escalation = Literal["none", "late", "very_late"]
EventKind = Literal["deadline.approaching", "deadline.due", "deadline.overdue", "deadline.escalated"]

ESCALATION_RANK: dict[str, int] = {"none": 0, "late": 1, "very_late": 2}

# Who is written to, by level: the partner's people first; late adds the partner's hierarchy and the city
# owner; very late adds the elected official in charge. A city commitment has no partner to remind.
REQUEST_AUDIENCE: dict[str, tuple[str, ...]] = {
    "none": ("liaison", "deputy"),
    "late": ("liaison", "deputy", "hierarchy", "city_owner"),
    "very_late": ("liaison", "deputy", "hierarchy", "city_owner", "elected"),
}
COMMITMENT_AUDIENCE: dict[str, tuple[str, ...]] = {
    "none": ("city_owner",),
    "late": ("city_owner",),
    "very_late": ("city_owner", "elected"),
}

# Bounds of every setting, shared with the API's validation.
MAX_BEFORE = 60
MAX_AFTER = 60
MAX_LATE = 250
MAX_REPEATS = 20
MAX_BEFORE_STEPS = 10


@dataclass(frozen=True)
class Rules:
    """Effective reminder rules of one deadline."""

    enabled: bool = True
    before_working_days: tuple[int, ...] = (10, 3, 1)
    on_due_day: bool = True
    first_after: int = 1
    repeat_every: int = 5
    late_after: int = 10
    very_late_after: int = 20
    repeats_after_very_late: int = 2
    window_start: time = time(8, 30)
    window_end: time = time(18, 0)

    @property
    def last_after(self) -> int:
        """The last working day after the deadline (or the re-arming) that gets a reminder."""
        return self.very_late_after + self.repeats_after_very_late * self.repeat_every

    def as_document(self) -> dict[str, Any]:
        """The rules in the API's shape (the same shape as an override document)."""
        return {
            "enabled": self.enabled,
            "before_working_days": list(self.before_working_days),
            "on_due_day": self.on_due_day,
            "after": {"first": self.first_after, "every": self.repeat_every},
            "escalation": {
                "late_after": self.late_after,
                "very_late_after": self.very_late_after,
                "repeats_after_very_late": self.repeats_after_very_late,
            },
            "sending_window": {
                "start": self.window_start.strftime("%H:%M"),
                "end": self.window_end.strftime("%H:%M"),
            },
        }


DEFAULT_RULES = Rules()


def _time(value: Any) -> time:
    return value if isinstance(value, time) else time.fromisoformat(str(value))


def apply_override(rules: Rules, override: Mapping[str, Any] | None) -> Rules:
    """`rules` with the groups present in `override` replaced; a group is replaced whole, so its fields stay
    consistent with each other (a window end is never paired with another level's start)."""
    if not override:
        return rules
    changes: dict[str, Any] = {}
    if override.get("enabled") is not None:
        changes["enabled"] = bool(override["enabled"])
    if override.get("before_working_days") is not None:
        changes["before_working_days"] = tuple(
            sorted({int(n) for n in override["before_working_days"]}, reverse=True)
        )
    if override.get("on_due_day") is not None:
        changes["on_due_day"] = bool(override["on_due_day"])
    if (after := override.get("after")) is not None:
        changes.update(first_after=int(after["first"]), repeat_every=int(after["every"]))
    if (escalation := override.get("escalation")) is not None:
        changes.update(
            late_after=int(escalation["late_after"]),
            very_late_after=int(escalation["very_late_after"]),
            repeats_after_very_late=int(escalation["repeats_after_very_late"]),
        )
    if (window := override.get("sending_window")) is not None:
        changes.update(window_start=_time(window["start"]), window_end=_time(window["end"]))
    return replace(rules, **changes)


def merge(*overrides: Mapping[str, Any] | None) -> Rules:
    """The defaults overridden in order (plan, partner, item): the most specific level wins."""
    rules = DEFAULT_RULES
    for override in overrides:
        rules = apply_override(rules, override)
    return rules


@dataclass(frozen=True)
class Step:
    """One reminder of a deadline's schedule."""

    name: str  # "D-10", "D", "D+5": unique within one arming of one deadline version
    offset: int  # working days from the (effective) deadline: negative before, 0 on the day
    day: date
    fire_at: datetime  # UTC
    escalation: Escalation

    def audience(self, item_kind: str) -> tuple[str, ...]:
        table = REQUEST_AUDIENCE if item_kind == "request" else COMMITMENT_AUDIENCE
        return table[self.escalation]

    def event_type(self, announced: str) -> EventKind:
        """The event this step sends, given the escalation level already announced in its arming."""
        if self.offset < 0:
            return "deadline.approaching"
        if self.offset == 0:
            return "deadline.due"
        if ESCALATION_RANK[self.escalation] > ESCALATION_RANK[announced]:
            return "deadline.escalated"
        return "deadline.overdue"


def step_name(offset: int) -> str:
    return "D" if offset == 0 else f"D{offset:+d}"


def reminder_key(deadline_id: object, version: int, arming: int, step: str) -> str:
    return f"{deadline_id}:{version}:{arming}:{step}"


def fire_instant(day: date, rules: Rules) -> datetime:
    """The opening of the sending window on `day`, in UTC."""
    return datetime.combine(day, rules.window_start, tzinfo=PARIS).astimezone(UTC)


def effective_due(due_on: date, calendar: WorkingCalendar) -> date:
    """CPC art. 642: a deadline on a non-working day is due on the next working day; steps count from it."""
    return calendar.deadline_from_due(due_on)


def _working_days_after(start: date, count: int, calendar: WorkingCalendar) -> list[date]:
    # One walk gives every "+k working days" of the schedule: [start+1, …, start+count].
    days: list[date] = []
    day = start
    while len(days) < count:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            days.append(day)
    return days


def _level(days_late: int, rules: Rules) -> Escalation:
    if days_late >= rules.very_late_after:
        return "very_late"
    if days_late >= rules.late_after:
        return "late"
    return "none"


def schedule(
    due_on: date, rules: Rules, calendar: WorkingCalendar, anchor_on: date | None = None
) -> list[Step]:
    """Every step of a deadline, in time order. `anchor_on` is set once the partner responded to the overdue
    deadline: the steps after the deadline then count from that day (escalation starts again, and the "+1"
    nudge is not repeated)."""
    if not rules.enabled:
        return []
    due = effective_due(due_on, calendar)
    steps: list[Step] = []
    for n in sorted(set(rules.before_working_days), reverse=True):
        day = calendar.add_working_days(due, -n)
        steps.append(Step(step_name(-n), -n, day, fire_instant(day, rules), "none"))
    if rules.on_due_day:
        steps.append(Step("D", 0, due, fire_instant(due, rules), "none"))
    rearmed = anchor_on is not None and anchor_on > due
    anchor = anchor_on if rearmed and anchor_on is not None else due
    after: set[int] = set(range(rules.repeat_every, rules.last_after + 1, rules.repeat_every))
    after |= {rules.late_after, rules.very_late_after}
    if not rearmed:
        after.add(rules.first_after)
    after = {k for k in after if 0 < k <= rules.last_after}
    if not after:
        return steps
    days = _working_days_after(anchor, max(after), calendar)
    anchor_offset = calendar.working_days_between(due, anchor) if rearmed else 0
    for k in sorted(after):
        day = days[k - 1]
        offset = anchor_offset + k
        steps.append(Step(step_name(offset), offset, day, fire_instant(day, rules), _level(k, rules)))
    return steps


def pending(steps: Sequence[Step], handled_until: datetime, now: datetime) -> list[Step]:
    """Steps whose instant came after `handled_until` and is not after `now`, in time order."""
    return [s for s in steps if handled_until < s.fire_at <= now]


def next_fire_at(steps: Iterable[Step], after: datetime) -> datetime | None:
    """The instant of the first step strictly after `after`, or None when the schedule is over."""
    return min((s.fire_at for s in steps if s.fire_at > after), default=None)


def in_window(instant: datetime, rules: Rules, calendar: WorkingCalendar) -> bool:
    """True on a working day between the window's opening (included) and its end (excluded), Paris time."""
    local = instant.astimezone(PARIS)
    return calendar.is_working_day(local.date()) and rules.window_start <= local.time() < rules.window_end


def next_window_opening(instant: datetime, rules: Rules, calendar: WorkingCalendar) -> datetime:
    """The next opening of the sending window strictly after `instant`."""
    local = instant.astimezone(PARIS)
    day = local.date()
    if not (calendar.is_working_day(day) and local.time() < rules.window_start):
        day = calendar.next_working_day(day, include_today=False)
    return fire_instant(day, rules)
