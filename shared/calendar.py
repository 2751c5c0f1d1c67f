"""French working-day calendar: public holidays, jours ouvrés arithmetic, code de procédure civile deadlines.

Pure and deterministic: no I/O, no clock. Callers pass dates (see shared.clock.paris_today for "today").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType

from dateutil.easter import easter  # type: ignore[import-untyped]  # `holidays` depends on it for Easter too
from holidays import country_holidays

__all__ = [
    "CLOSED_DAY_NAME",
    "WorkingCalendar",
    "add_months",
    "default_calendar",
    "format_date_fr",
]

# Name reported for a city's own closures (ponts…), which have no official name.
CLOSED_DAY_NAME = "Fermeture exceptionnelle"

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5  # date.weekday(): Monday is 0

# Tables rather than locale.setlocale: the locale is process-global and fr_FR may not be installed.
_WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS_FR = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip


@lru_cache(maxsize=512)
def _public_holidays(year: int, alsace_moselle: bool, pentecost_monday: bool) -> Mapping[date, str]:
    """Public holidays of one year for one set of options, as a read-only {date: French name}."""
    # Building a `holidays` year is far slower than a dict lookup and the deadline scanner asks for the same
    # few years over and over, hence the cache. Subdivision "57" (Moselle) has exactly the rules of "6AE"
    # (Bas-Rhin 67, Haut-Rhin 68): loi locale of 1892, Vendredi saint and Saint-Étienne.
    # language="fr" pins the names: without it the library may follow the process's locale (LANG).
    found = country_holidays("FR", subdiv="57" if alsace_moselle else None, years=year, language="fr")
    days: dict[date, str] = dict(found)
    if not pentecost_monday:
        # By date, not name: an upstream renaming must not silently re-close the journée de solidarité.
        days.pop(easter(year) + timedelta(days=50), None)
    # Read-only: the cached mapping is shared by every caller.
    return MappingProxyType(days)


def _days_in_month(year: int, month: int) -> int:
    # Local helper rather than stdlib calendar.monthrange: this module is itself named `calendar`.
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return (first_of_next - _ONE_DAY).day


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days (jours ouvrés, Monday–Friday) of a French administration, and deadline arithmetic."""

    # Bas-Rhin, Haut-Rhin, Moselle: Vendredi saint and Saint-Étienne (26 December) are also public holidays.
    alsace_moselle: bool = False
    # A public holiday by law, but worked as the journée de solidarité in many administrations.
    pentecost_monday_is_holiday: bool = True
    # The city's own closures (ponts…), treated like public holidays.
    extra_closed_days: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        # Accept any iterable (a set, a list from config); store a frozenset so the calendar stays hashable.
        object.__setattr__(self, "extra_closed_days", frozenset(self.extra_closed_days))

    def holiday_name(self, d: date) -> str | None:
        """French name of the public holiday or closure on d (whatever the weekday), else None."""
        name = _public_holidays(d.year, self.alsace_moselle, self.pentecost_monday_is_holiday).get(d)
        if name is None and d in self.extra_closed_days:
            return CLOSED_DAY_NAME
        return name

    def is_working_day(self, d: date) -> bool:
        """True if d is Monday–Friday and neither a public holiday nor a closed day."""
        return d.weekday() < _SATURDAY and self.holiday_name(d) is None

    def next_working_day(self, d: date, include_today: bool = True) -> date:
        """First working day on or after d (strictly after d if include_today is False)."""
        if not include_today:
            d += _ONE_DAY
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d

    def previous_working_day(self, d: date, include_today: bool = True) -> date:
        """Last working day on or before d (strictly before d if include_today is False)."""
        if not include_today:
            d -= _ONE_DAY
        while not self.is_working_day(d):
            d -= _ONE_DAY
        return d

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after d (before d if n < 0), d itself not counted; d unchanged if n == 0."""
        # n == 0 returns d as is, even on a weekend: adding nothing should not move a date. Use
        # next_working_day(d) to roll a date onto a working day.
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        for _ in range(abs(n)):
            d += step
            while not self.is_working_day(d):
                d += step
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Signed count of working days walked from a to b, a excluded and b included."""
        # a <= b: +#{working x : a < x <= b};  a > b: -#{working x : b <= x < a}.
        # Hence, for every n != 0: working_days_between(a, add_working_days(a, n)) == n; and if k = the result
        # is non-zero, add_working_days(a, k) is previous_working_day(b) when a < b, next_working_day(b) when
        # a > b (b itself when b is a working day). Antisymmetric when a and b are both working or both not.
        # "N jours ouvrés de retard" is working_days_between(due, today): 0 on the due date and on the weekend
        # right after a Friday due date, 1 on the following Monday.
        if a <= b:
            return self._working_days_in(a + _ONE_DAY, b)
        return -self._working_days_in(b, a - _ONE_DAY)

    def _working_days_in(self, lo: date, hi: date) -> int:
        """How many working days lie in [lo, hi] (none when hi < lo): the weekdays, counted by whole weeks, less
        the holidays and closures that fall on one of them. Its cost does not grow with the span (a reminder
        months overdue counts as fast as one due tomorrow)."""
        days = (hi - lo).days + 1
        if days <= 0:
            return 0
        weeks, rest = divmod(days, 7)
        first = lo.weekday()
        weekdays = weeks * 5 + sum((first + k) % 7 < _SATURDAY for k in range(rest))
        closed = set(self.extra_closed_days)
        for year in range(lo.year, hi.year + 1):
            closed.update(_public_holidays(year, self.alsace_moselle, self.pentecost_monday_is_holiday))
        return weekdays - sum(1 for d in closed if lo <= d <= hi and d.weekday() < _SATURDAY)

    def deadline_from_due(self, d: date) -> date:
        """CPC art. 642: a deadline falling on a non-working day moves to the next working day."""
        # Art. 642 names Saturdays, Sundays, holidays and jours chômés; the city's closures are the latter.
        return self.next_working_day(d, include_today=True)

    @staticmethod
    def add_months(d: date, months: int) -> date:
        """Same day number `months` later (CPC art. 641 al. 2), or the last day of a shorter month."""
        # Art. 641 only, independent of holidays: callers apply deadline_from_due (art. 642) to a deadline.
        index = d.year * 12 + (d.month - 1) + months
        year, month = divmod(index, 12)
        return date(year, month + 1, min(d.day, _days_in_month(year, month + 1)))

    def add_calendar_days_deadline(self, d: date, days: int) -> date:
        """Deadline of `days` calendar days running from the act of d (CPC art. 641 al. 1 and 642)."""
        # Art. 641: the day of the act does not count, so the deadline is d + days; art. 642 then extends it.
        if days < 0:
            raise ValueError("un délai se compte vers l'avenir : days doit être positif ou nul")
        return self.deadline_from_due(d + timedelta(days=days))


# Also a plain function: month arithmetic needs no calendar.
add_months = WorkingCalendar.add_months


_installation_calendar = WorkingCalendar()


def default_calendar() -> WorkingCalendar:
    """The installation's calendar: metropolitan France with lundi de Pentecôte off unless the process was
    configured otherwise at start (`use_calendar`, from the CALENDAR_* settings)."""
    return _installation_calendar


def use_calendar(calendar: WorkingCalendar) -> None:
    """Set the installation's calendar for this process (called once at start by each service)."""
    global _installation_calendar
    _installation_calendar = calendar


def format_date_fr(d: date) -> str:
    """Date for French prose, e.g. "lundi 3 novembre 2025", "samedi 1er novembre 2025"."""
    day = "1er" if d.day == 1 else str(d.day)
    return f"{_WEEKDAYS_FR[d.weekday()]} {day} {_MONTHS_FR[d.month - 1]} {d.year}"
