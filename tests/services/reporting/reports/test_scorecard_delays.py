"""The scorecard's response delays, worked out by the database (median, and the 90th percentile by nearest rank),
agree with their definitions for every count of answers from none to twelve, odd and even, ties included, on
SQLite and PostgreSQL."""

from __future__ import annotations

import math
import statistics
import uuid
from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy import insert

from services.reporting.projection.models import Item, Partner
from services.reporting.reports import repository
from shared.db import create_engine, create_sessionmaker

PERIOD = (date(2026, 1, 1), date(2026, 12, 31))
# Unsorted, with ties: the first n of them are the delays of a partner with n answers.
DELAYS = [9, 2, 14, 11, 2, 30, 5, 7, 7, 21, 1, 16]


def _item(partner: uuid.UUID, delay: int | None, answered_on: date | None) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "plan_id": uuid.uuid4(),
        "objective_id": uuid.uuid4(),
        "kind": "request",
        "title": "Demande",
        "status": "accepted",
        "waiting_on": "partner",
        "lead_partner_id": partner,
        "created_on": date(2026, 2, 1),
        "status_changed_on": date(2026, 3, 1),
        "requested_on": date(2026, 2, 2),
        "answered_on": answered_on,
        "response_delay_working_days": delay,
    }


async def test_median_and_90th_percentile_of_the_delays(
    new_reporting_database: Callable[..., Awaitable[str]],
) -> None:
    partners = [uuid.uuid4() for _ in range(len(DELAYS) + 1)]
    items = []
    for n, partner in enumerate(partners):  # the partner n answered n requests
        items += [_item(partner, delay, date(2026, 3, 1)) for delay in DELAYS[:n]]
        # Not counted: an answer outside the period, and a request still unanswered.
        items += [_item(partner, 100, date(2025, 12, 31)), _item(partner, None, None)]
    engine = create_engine(await new_reporting_database(), pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                insert(Partner),
                [
                    {"id": p, "name": f"P{n}", "kind": "association", "is_group": False}
                    for n, p in enumerate(partners)
                ],
            )
            await session.execute(insert(Item), items)
        async with create_sessionmaker(engine)() as session:
            for n, partner in enumerate(partners):
                row = await repository.scorecard_row(
                    session, partner, *PERIOD, date(2026, 6, 1), date(2026, 5, 1)
                )
                assert row is not None
                delays = sorted(DELAYS[:n])
                median = None if row.median_delay is None else float(row.median_delay)
                assert median == (float(statistics.median(delays)) if delays else None), n
                assert row.p90_delay == (delays[max(math.ceil(0.9 * n), 1) - 1] if delays else None), n
    finally:
        await engine.dispose()
