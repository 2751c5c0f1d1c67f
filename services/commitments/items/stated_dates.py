"""Dates a caller states about what happened (an answer, a delivery, a journal entry, a milestone met): checked
against today in Europe/Paris and against what they cannot precede. A refusal names the field, in French."""

from __future__ import annotations

from datetime import date

from shared.clock import Clock, paris_today
from shared.problems import InvalidInput


def check_past_date(
    field: str, on: date, clock: Clock, *, not_before: date | None = None, not_before_what: str = ""
) -> None:
    """`on` is today or earlier and, when `not_before` is given, not before it (422 otherwise)."""
    today = paris_today(clock)
    if on > today:
        raise InvalidInput(
            f"{field} : la date {on.isoformat()} est dans le futur (nous sommes le "
            f"{today.isoformat()}) ; on ne date pas à l'avance ce qui n'a pas eu lieu.",
            field=field,
        )
    if not_before is not None and on < not_before:
        raise InvalidInput(
            f"{field} : la date {on.isoformat()} précède {not_before_what} ({not_before.isoformat()}).",
            field=field,
        )


def check_future_date(field: str, on: date, clock: Clock) -> None:
    """`on` is after today (a date proposed for what is still to come)."""
    today = paris_today(clock)
    if on <= today:
        raise InvalidInput(
            f"{field} : une nouvelle date proposée doit être postérieure à aujourd'hui "
            f"({today.isoformat()}).",
            field=field,
        )
