"""The reminder rules and the schedule they give a deadline (pure logic: no database)."""

from __future__ import annotations

from datetime import date, datetime, time

from services.commitments.reminders import rules as r
from shared.calendar import WorkingCalendar

CAL = WorkingCalendar()


def _at(day: str, hhmm: str = "07:30") -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")


def test_default_schedule_of_a_deadline_steps_and_instants() -> None:
    steps = r.schedule(date(2026, 3, 5), r.DEFAULT_RULES, CAL)
    assert [(s.name, s.day, s.escalation) for s in steps] == [
        ("D-10", date(2026, 2, 19), "none"),
        ("D-3", date(2026, 3, 2), "none"),
        ("D-1", date(2026, 3, 4), "none"),
        ("D", date(2026, 3, 5), "none"),
        ("D+1", date(2026, 3, 6), "none"),
        ("D+5", date(2026, 3, 12), "none"),
        ("D+10", date(2026, 3, 19), "late"),
        ("D+15", date(2026, 3, 26), "late"),
        # Easter Monday (6 April 2026) is skipped; after the very-late step, two more and then silence.
        ("D+20", date(2026, 4, 2), "very_late"),
        ("D+25", date(2026, 4, 10), "very_late"),
        ("D+30", date(2026, 4, 17), "very_late"),
    ]
    # 08:30 in Paris: 07:30 UTC in winter, 06:30 UTC once summer time started (29 March 2026).
    assert steps[0].fire_at == _at("2026-02-19") and steps[-1].fire_at == _at("2026-04-17", "06:30")


def test_event_types_and_audiences_follow_the_level_announced() -> None:
    steps = {s.name: s for s in r.schedule(date(2026, 3, 5), r.DEFAULT_RULES, CAL)}
    assert steps["D-3"].event_type("none") == "deadline.approaching"
    assert steps["D"].event_type("none") == "deadline.due"
    assert steps["D+5"].event_type("none") == "deadline.overdue"
    assert steps["D+10"].event_type("none") == "deadline.escalated"
    assert steps["D+15"].event_type("late") == "deadline.overdue"
    # Catch-up skipped D+10: the first "late" step sent is the escalation.
    assert steps["D+15"].event_type("none") == "deadline.escalated"
    assert steps["D+20"].event_type("late") == "deadline.escalated"
    assert steps["D+5"].audience("request") == ("liaison", "deputy")
    assert steps["D+10"].audience("request") == ("liaison", "deputy", "hierarchy", "city_owner")
    assert steps["D+20"].audience("request") == ("liaison", "deputy", "hierarchy", "city_owner", "elected")
    assert steps["D+5"].audience("commitment") == ("city_owner",)
    assert steps["D+20"].audience("commitment") == ("city_owner", "elected")


def test_a_deadline_on_a_non_working_day_counts_from_the_next_working_day() -> None:
    # Saturday 1 November 2025 (Toussaint) → Monday 3 November 2025 (CPC art. 642).
    steps = {s.name: s for s in r.schedule(date(2025, 11, 1), r.DEFAULT_RULES, CAL)}
    assert steps["D"].day == date(2025, 11, 3) and steps["D-1"].day == date(2025, 10, 31)


def test_overrides_merge_plan_then_partner_then_item_group_by_group() -> None:
    plan = {"before_working_days": [15, 5], "sending_window": {"start": "09:00", "end": "17:00"}}
    partner = {"escalation": {"late_after": 5, "very_late_after": 15, "repeats_after_very_late": 0}}
    item = {"before_working_days": [2], "on_due_day": False}
    rules = r.merge(plan, partner, item)
    assert rules.before_working_days == (2,) and rules.on_due_day is False
    assert (rules.window_start, rules.window_end) == (time(9), time(17))
    assert (rules.late_after, rules.very_late_after, rules.last_after) == (5, 15, 15)
    assert [s.name for s in r.schedule(date(2026, 3, 5), rules, CAL)] == ["D-2", "D+1", "D+5", "D+10", "D+15"]
    assert r.merge(None, None, None) == r.DEFAULT_RULES
    assert r.schedule(date(2026, 3, 5), r.merge({"enabled": False}), CAL) == []


def test_after_a_response_escalation_counts_again_from_the_response_day() -> None:
    # Due Thursday 5 March; the partner answers on Friday 20 March (D+11).
    steps = r.schedule(date(2026, 3, 5), r.DEFAULT_RULES, CAL, anchor_on=date(2026, 3, 20))
    after = [(s.name, s.day, s.escalation) for s in steps if s.offset > 0]
    assert after == [
        ("D+16", date(2026, 3, 27), "none"),
        ("D+21", date(2026, 4, 3), "late"),
        ("D+26", date(2026, 4, 13), "late"),
        ("D+31", date(2026, 4, 20), "very_late"),
        ("D+36", date(2026, 4, 27), "very_late"),
        ("D+41", date(2026, 5, 5), "very_late"),
    ]  # 1 May is a public holiday
    assert [s.name for s in steps if s.offset <= 0] == ["D-10", "D-3", "D-1", "D"]


def test_pending_next_and_sending_window() -> None:
    steps = r.schedule(date(2026, 3, 5), r.DEFAULT_RULES, CAL)
    # Down from Monday 9:00 to the next Tuesday 12:00: D-1, D, D+1 were missed; only they are pending.
    due = r.pending(steps, _at("2026-03-02", "09:00"), _at("2026-03-10", "11:00"))
    assert [s.name for s in due] == ["D-1", "D", "D+1"]
    assert r.next_fire_at(steps, _at("2026-03-10", "11:00")) == _at("2026-03-12")
    assert r.next_fire_at(steps, _at("2026-04-17", "06:30")) is None
    rules = r.DEFAULT_RULES
    assert r.in_window(_at("2026-03-10", "07:30"), rules, CAL)
    assert not r.in_window(_at("2026-03-10", "07:29"), rules, CAL)
    assert not r.in_window(_at("2026-03-10", "17:00"), rules, CAL)  # 18:00 in Paris: the window is closed
    assert not r.in_window(_at("2026-03-14", "10:00"), rules, CAL)  # a Saturday
    assert r.next_window_opening(_at("2026-03-13", "19:00"), rules, CAL) == _at("2026-03-16")
    assert r.next_window_opening(_at("2026-03-10", "05:00"), rules, CAL) == _at("2026-03-10")
    assert r.reminder_key("d", 2, 1, "D+5") == "d:2:1:D+5"
    assert r.DEFAULT_RULES.as_document()["sending_window"] == {"start": "08:30", "end": "18:00"}
