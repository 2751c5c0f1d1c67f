"""The iCalendar feed of a partner's deadlines, built with `icalendar`. Pure: the caller passes the rows and
the instant.

Each deadline is an all-day event on its date in force. Its alarms fall on the days the reminder mails go out
before it: the rules' "n working days before" steps and the due day, counted in French working days from the
deadline moved to the next working day when it falls on a closed day (CPC art. 642, as the commitments
service's scanner counts them), at the opening of the sending window (08:30 Europe/Paris by default). A
calendar client knows nothing of public holidays, so each trigger is the actual instant worked out here,
written relative to the event's start (an all-day event starts at 00:00 on its date): a relative trigger
is what every client honours. Only the reminders still to come get an alarm, and only for deadlines still open."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from icalendar import Alarm, Calendar, Event, Timezone

from services.reporting.labels import DEADLINE_KIND_LABELS, STATUS_LABELS, WAITING_ON_LABELS, date_fr, label
from services.reporting.reports.schemas import DeadlineReportRead
from shared.calendar import WorkingCalendar
from shared.clock import PARIS

TIMEZONE = "Europe/Paris"
PRODID = "-//Engagements//Calendrier des échéances//FR"


@dataclass(frozen=True)
class ReminderDays:
    """The part of the reminder rules that falls before or on a deadline (the reporting service's settings,
    the commitments service's defaults unless told otherwise)."""

    before_working_days: tuple[int, ...] = (10, 3, 1)
    on_due_day: bool = True
    window_start: time = time(8, 30)


@dataclass(frozen=True)
class Reminder:
    step: str  # "J-10", "J"
    fire_at: datetime  # Europe/Paris


def reminders(due_on: date, rules: ReminderDays, calendar: WorkingCalendar) -> list[Reminder]:
    """The reminders of a deadline up to its day, in time order."""
    due = calendar.deadline_from_due(due_on)
    steps = [
        (f"J-{n}", calendar.add_working_days(due, -n))
        for n in sorted(set(rules.before_working_days), reverse=True)
    ]
    if rules.on_due_day:
        steps.append(("J", due))
    return [Reminder(step, datetime.combine(day, rules.window_start, tzinfo=PARIS)) for step, day in steps]


def _lead_name(deadline: DeadlineReportRead, partner_names: Mapping[uuid.UUID, str]) -> str | None:
    return partner_names.get(deadline.lead_partner_id) if deadline.lead_partner_id is not None else None


def _description(deadline: DeadlineReportRead, partner_name: str | None) -> str:
    lines = [
        f"Élément : {deadline.item_title}",
        f"Référence : {deadline.item_id}",
        f"Statut : {label(STATUS_LABELS, deadline.item_status)}",
        f"Échéance de {label(DEADLINE_KIND_LABELS, deadline.kind)} au {date_fr(deadline.due_on)}",
        f"En attente de : {label(WAITING_ON_LABELS, deadline.waiting_on)}",
    ]
    if partner_name:
        lines.append(f"Partenaire pilote : {partner_name}")
    if deadline.original_due_on != deadline.due_on:
        lines.append(
            f"Date initiale : {date_fr(deadline.original_due_on)} (glissement : "
            f"{deadline.slippage_working_days} jours ouvrés)"
        )
    if deadline.met_on is not None:
        lines.append(f"Atteinte le {date_fr(deadline.met_on)}")
    return "\n".join(lines)


def build_feed(
    uid: uuid.UUID,
    name: str,
    deadlines: Sequence[DeadlineReportRead],
    partner_names: Mapping[uuid.UUID, str],
    item_url: str,
    now: datetime,
    rules: ReminderDays,
    calendar: WorkingCalendar,
) -> bytes:
    """The feed (`uid`: the feed's own, stable): one all-day event per deadline, alarms on the reminder days
    still to come, the Europe/Paris VTIMEZONE. `item_url` has an `{item_id}` placeholder."""
    feed = Calendar.new(prodid=PRODID, name=name, uid=uid, refresh_interval=timedelta(hours=1))
    feed.add("x-wr-timezone", TIMEZONE)
    feed.add("x-published-ttl", "PT1H")  # the older clients' REFRESH-INTERVAL
    feed.add_component(
        Timezone.from_tzid(TIMEZONE, first_date=date(now.year - 1, 1, 1), last_date=date(now.year + 3, 1, 1))
    )
    for deadline in deadlines:
        kind = label(DEADLINE_KIND_LABELS, deadline.kind)
        event = Event.new(
            uid=f"{deadline.deadline_id}@engagements",
            stamp=now.astimezone(UTC),
            start=deadline.due_on,
            end=deadline.due_on + timedelta(days=1),
            summary=f"Échéance ({kind}) : {deadline.item_title}",
            description=_description(deadline, _lead_name(deadline, partner_names)),
            url=item_url.format(item_id=deadline.item_id),
            categories=[kind],
        )
        event.add("transp", "TRANSPARENT")
        if deadline.met_on is None:
            start = datetime.combine(deadline.due_on, time(0), tzinfo=PARIS)
            for reminder in reminders(deadline.due_on, rules, calendar):
                if reminder.fire_at <= now:
                    continue
                alarm = Alarm.new(description=f"Rappel {reminder.step} : {deadline.item_title}")
                alarm.add("action", "DISPLAY")
                # The same wall-clock interval whatever the client's zone: days, then hours and minutes.
                alarm.add("trigger", reminder.fire_at.replace(tzinfo=None) - start.replace(tzinfo=None))
                event.add_component(alarm)
        feed.add_component(event)
    content: bytes = feed.to_ical()
    return content
