"""Working-day calendar: French public holidays, jours ouvrés, CPC art. 641/642 deadlines, French dates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import (
    CLOSED_DAY_NAME,
    WorkingCalendar,
    add_months,
    default_calendar,
    format_date_fr,
)

CAL = default_calendar()

METROPOLITAN_2026 = {
    date(2026, 1, 1): "Jour de l'an",
    date(2026, 4, 6): "Lundi de Pâques",
    date(2026, 5, 1): "Fête du Travail",
    date(2026, 5, 8): "Fête de la Victoire",
    date(2026, 5, 14): "Ascension",
    date(2026, 5, 25): "Lundi de Pentecôte",
    date(2026, 7, 14): "Fête nationale",
    date(2026, 8, 15): "Assomption",
    date(2026, 11, 1): "Toussaint",
    date(2026, 11, 11): "Armistice",
    date(2026, 12, 25): "Noël",
}

ALL_2026 = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]


# --- Holidays -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "name"), sorted(METROPOLITAN_2026.items()))
def test_each_metropolitan_holiday_of_2026_is_named_and_not_worked(day: date, name: str) -> None:
    assert CAL.holiday_name(day) == name
    assert not CAL.is_working_day(day)


def test_2026_has_exactly_the_metropolitan_holidays() -> None:
    assert {d for d in ALL_2026 if CAL.holiday_name(d)} == set(METROPOLITAN_2026)
    # Good Friday and Saint-Étienne are ordinary days outside Alsace-Moselle.
    assert CAL.is_working_day(date(2026, 4, 3))
    assert CAL.holiday_name(date(2026, 12, 26)) is None


def test_weekends_are_not_worked_and_ordinary_weekdays_are() -> None:
    assert not CAL.is_working_day(date(2026, 5, 16))  # Saturday
    assert not CAL.is_working_day(date(2026, 5, 17))  # Sunday
    assert CAL.holiday_name(date(2026, 5, 16)) is None
    assert CAL.is_working_day(date(2026, 5, 15))  # Friday after Ascension (pont only if the city says so)
    # 252 jours ouvrés in 2026: 261 weekdays minus 9 weekday holidays (15 August, 1 November: weekend).
    assert sum(CAL.is_working_day(d) for d in ALL_2026) == 252


def test_alsace_moselle_adds_good_friday_and_saint_etienne() -> None:
    cal = WorkingCalendar(alsace_moselle=True)
    assert cal.holiday_name(date(2026, 4, 3)) == "Vendredi saint"
    assert cal.holiday_name(date(2026, 12, 26)) == "Saint-Étienne"
    assert not cal.is_working_day(date(2026, 4, 3))
    assert {d for d in ALL_2026 if cal.holiday_name(d)} == set(METROPOLITAN_2026) | {
        date(2026, 4, 3),
        date(2026, 12, 26),
    }
    # 26 December 2025 is a Friday: worked in Paris, not in Strasbourg.
    assert CAL.is_working_day(date(2025, 12, 26))
    assert not cal.is_working_day(date(2025, 12, 26))


def test_pentecost_monday_can_be_a_working_day() -> None:
    whit_monday = date(2026, 5, 25)
    solidarity = WorkingCalendar(pentecost_monday_is_holiday=False)
    assert solidarity.is_working_day(whit_monday)
    assert solidarity.holiday_name(whit_monday) is None
    assert solidarity.add_working_days(date(2026, 5, 22), 1) == whit_monday
    assert CAL.add_working_days(date(2026, 5, 22), 1) == date(2026, 5, 26)
    # The option only affects Whit Monday, in any year (2027: Easter 28 March, Whit Monday 17 May).
    assert CAL.holiday_name(date(2027, 5, 17)) == "Lundi de Pentecôte"
    assert solidarity.is_working_day(date(2027, 5, 17))
    assert not solidarity.is_working_day(date(2026, 5, 14))
    both = WorkingCalendar(alsace_moselle=True, pentecost_monday_is_holiday=False)
    assert both.is_working_day(whit_monday) and not both.is_working_day(date(2026, 4, 3))


def test_extra_closed_days_are_not_worked() -> None:
    pont = date(2026, 5, 15)  # Friday after Ascension
    cal = WorkingCalendar(extra_closed_days=frozenset({pont}))
    assert not cal.is_working_day(pont)
    assert cal.holiday_name(pont) == CLOSED_DAY_NAME
    assert cal.add_working_days(date(2026, 5, 13), 1) == date(2026, 5, 18)
    assert cal.deadline_from_due(pont) == date(2026, 5, 18)
    # A plain set is accepted and frozen, so the calendar stays hashable.
    assert hash(WorkingCalendar(extra_closed_days={pont})) == hash(cal)  # type: ignore[arg-type]


# --- Working-day arithmetic ---------------------------------------------------------------------------------


def test_five_working_days_after_wednesday_13_may_2026_skip_ascension() -> None:
    assert CAL.add_working_days(date(2026, 5, 13), 5) == date(2026, 5, 21)


def test_add_working_days_zero_leaves_the_date_alone() -> None:
    assert CAL.add_working_days(date(2026, 5, 13), 0) == date(2026, 5, 13)
    assert CAL.add_working_days(date(2026, 5, 16), 0) == date(2026, 5, 16)  # even a Saturday


def test_add_working_days_backwards() -> None:
    assert CAL.add_working_days(date(2026, 5, 21), -5) == date(2026, 5, 13)
    assert CAL.add_working_days(date(2026, 5, 18), -1) == date(2026, 5, 15)  # Monday → Friday
    assert CAL.add_working_days(date(2026, 5, 16), -1) == date(2026, 5, 15)  # Saturday → Friday
    assert CAL.add_working_days(date(2026, 5, 15), -1) == date(2026, 5, 13)  # skips Ascension


def test_add_working_days_across_year_end() -> None:
    # 1 January 2027 is a Friday holiday, 2-3 January the weekend.
    assert CAL.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert CAL.add_working_days(date(2027, 1, 4), -1) == date(2026, 12, 31)
    assert CAL.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 28)  # 25 Dec Friday, then weekend


def test_next_and_previous_working_day() -> None:
    assert CAL.next_working_day(date(2026, 5, 13)) == date(2026, 5, 13)
    assert CAL.next_working_day(date(2026, 5, 13), include_today=False) == date(2026, 5, 15)
    assert CAL.next_working_day(date(2026, 5, 23)) == date(2026, 5, 26)  # Sat, Sun, Whit Monday
    assert CAL.previous_working_day(date(2026, 5, 15)) == date(2026, 5, 15)
    assert CAL.previous_working_day(date(2026, 5, 15), include_today=False) == date(2026, 5, 13)
    assert CAL.previous_working_day(date(2027, 1, 3)) == date(2026, 12, 31)


def test_working_days_between_counts_the_end_not_the_start() -> None:
    wed, thu_asc, fri, sat, mon = (date(2026, 5, d) for d in (13, 14, 15, 16, 18))
    assert CAL.working_days_between(wed, wed) == 0
    assert CAL.working_days_between(wed, thu_asc) == 0
    assert CAL.working_days_between(wed, fri) == 1
    assert CAL.working_days_between(wed, mon) == 2
    # Lateness: a Friday due date is 0 days late over the weekend, 1 on Monday.
    assert CAL.working_days_between(fri, sat) == 0
    assert CAL.working_days_between(fri, mon) == 1
    assert CAL.working_days_between(date(2026, 12, 31), date(2027, 1, 4)) == 1


def test_working_days_between_is_signed() -> None:
    wed, fri, sat, mon = (date(2026, 5, d) for d in (13, 15, 16, 18))
    # Between two working days the count is antisymmetric.
    assert CAL.working_days_between(mon, wed) == -2
    assert CAL.working_days_between(fri, wed) == -1
    for a, b in [(wed, mon), (wed, fri), (date(2026, 1, 2), date(2026, 12, 31))]:
        assert CAL.working_days_between(b, a) == -CAL.working_days_between(a, b)
    # Backwards the start is excluded and the end included too: from Saturday back to Friday is 1 day.
    assert CAL.working_days_between(sat, fri) == -1
    assert CAL.working_days_between(mon, sat) == 0
    # 1 January is excluded as the start, and is a holiday anyway.
    assert CAL.working_days_between(date(2026, 1, 1), date(2026, 12, 31)) == 252


@pytest.mark.parametrize(
    "cal",
    [CAL, WorkingCalendar(alsace_moselle=True, pentecost_monday_is_holiday=False)],
    ids=["default", "other"],
)
def test_add_and_between_agree_on_every_day_of_2026(cal: WorkingCalendar) -> None:
    for d in ALL_2026:
        for n in range(-25, 26):
            target = cal.add_working_days(d, n)
            if n == 0:
                assert target == d
                continue
            assert cal.is_working_day(target), (d, n)
            assert cal.working_days_between(d, target) == n, (d, n)
            assert (target > d) == (n > 0)


@settings(max_examples=300, deadline=None)
@given(
    a=st.dates(date(2024, 1, 1), date(2029, 12, 31)),
    b=st.dates(date(2024, 1, 1), date(2029, 12, 31)),
    alsace_moselle=st.booleans(),
    pentecost=st.booleans(),
    closed=st.frozensets(st.dates(date(2024, 1, 1), date(2029, 12, 31)), max_size=20),
)
def test_between_counts_what_walking_day_by_day_counts(
    a: date, b: date, alsace_moselle: bool, pentecost: bool, closed: frozenset[date]
) -> None:
    # Counted by whole weeks less the closed weekdays: the same as walking from a to b (b counted, a not).
    cal = WorkingCalendar(
        alsace_moselle=alsace_moselle, pentecost_monday_is_holiday=pentecost, extra_closed_days=closed
    )
    lo, hi = (a + timedelta(days=1), b) if a <= b else (b, a - timedelta(days=1))
    walked = sum(cal.is_working_day(lo + timedelta(days=i)) for i in range((hi - lo).days + 1))
    assert cal.working_days_between(a, b) == (walked if a <= b else -walked)


def test_add_of_between_lands_on_the_nearest_working_day_of_b() -> None:
    for a in ALL_2026[100:160]:
        for b in ALL_2026[90:170]:
            k = CAL.working_days_between(a, b)
            if k == 0:
                continue
            expected = CAL.previous_working_day(b) if a < b else CAL.next_working_day(b)
            assert CAL.add_working_days(a, k) == expected, (a, b)


# --- Deadlines (code de procédure civile art. 641 and 642) --------------------------------------------------


def test_deadline_on_saturday_1_november_2025_moves_to_monday_3() -> None:
    assert CAL.deadline_from_due(date(2025, 11, 1)) == date(2025, 11, 3)
    assert CAL.deadline_from_due(date(2025, 11, 3)) == date(2025, 11, 3)
    assert CAL.deadline_from_due(date(2026, 5, 14)) == date(2026, 5, 15)  # Ascension → Friday


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2026, 11, 30), 2, date(2027, 1, 30)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
        (date(2026, 5, 31), 0, date(2026, 5, 31)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 31), -2, date(2025, 11, 30)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected
    assert CAL.add_months(start, months) == expected


def test_month_deadline_then_art_642() -> None:
    # One month from 31 January 2026 is Saturday 28 February; the deadline moves to Monday 2 March.
    assert CAL.deadline_from_due(add_months(date(2026, 1, 31), 1)) == date(2026, 3, 2)


def test_add_calendar_days_deadline() -> None:
    # 4 May + 10 days is Thursday 14 May, Ascension: the deadline is Friday 15.
    assert CAL.add_calendar_days_deadline(date(2026, 5, 4), 10) == date(2026, 5, 15)
    assert CAL.add_calendar_days_deadline(date(2026, 5, 4), 3) == date(2026, 5, 7)
    assert CAL.add_calendar_days_deadline(date(2025, 10, 17), 15) == date(2025, 11, 3)  # Sat 1 Nov → Mon 3
    assert CAL.add_calendar_days_deadline(date(2025, 11, 1), 0) == date(2025, 11, 3)
    with pytest.raises(ValueError):
        CAL.add_calendar_days_deadline(date(2026, 5, 4), -1)


# --- French dates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (date(2025, 11, 3), "lundi 3 novembre 2025"),
        (date(2025, 11, 1), "samedi 1er novembre 2025"),
        (date(2026, 5, 14), "jeudi 14 mai 2026"),
        (date(2026, 2, 1), "dimanche 1er février 2026"),
        (date(2026, 8, 15), "samedi 15 août 2026"),
        (date(2026, 12, 31), "jeudi 31 décembre 2026"),
        (date(2026, 3, 11), "mercredi 11 mars 2026"),
        (date(2027, 1, 1), "vendredi 1er janvier 2027"),
    ],
)
def test_format_date_fr(day: date, text: str) -> None:
    assert format_date_fr(day) == text
