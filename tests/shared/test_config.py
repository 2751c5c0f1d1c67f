"""The installation's working-day calendar comes from its settings (CALENDAR_*)."""

from __future__ import annotations

from datetime import date

import pytest

from shared.calendar import default_calendar, use_calendar
from shared.config import ServiceSettings

GOOD_FRIDAY_2026 = date(2026, 4, 3)
WHIT_MONDAY_2026 = date(2026, 5, 25)


def test_default_is_metropolitan_with_whit_monday_off() -> None:
    calendar = ServiceSettings().working_calendar()
    assert calendar.is_working_day(GOOD_FRIDAY_2026) and not calendar.is_working_day(WHIT_MONDAY_2026)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALENDAR_ALSACE_MOSELLE", "true")
    monkeypatch.setenv("CALENDAR_PENTECOST_MONDAY_OFF", "false")
    calendar = ServiceSettings().working_calendar()
    assert not calendar.is_working_day(GOOD_FRIDAY_2026) and calendar.is_working_day(WHIT_MONDAY_2026)


def test_use_calendar_sets_the_process_default() -> None:
    before = default_calendar()
    try:
        use_calendar(ServiceSettings(calendar_alsace_moselle=True).working_calendar())
        assert not default_calendar().is_working_day(GOOD_FRIDAY_2026)
    finally:
        use_calendar(before)
    assert default_calendar().is_working_day(GOOD_FRIDAY_2026)
