"""Fixtures of the plan tests: plan imports, each in a transaction of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from services.commitments.plans.importer import ImportReport, import_plan_text
from shared.auth import SYSTEM
from shared.clock import FixedClock
from tests.services.commitments.sample_data import BLAGIS, SAMPLE_PLAN


@pytest.fixture
def import_text(app: FastAPI, clock: FixedClock) -> Callable[..., Awaitable[ImportReport]]:
    """Import a plan's text (options as import_plan_text takes them)."""

    async def run(text: str, **options: Any) -> ImportReport:
        async with app.state.sessionmaker() as session, session.begin():
            return await import_plan_text(session, SYSTEM, clock, text, **options)

    return run


@pytest.fixture
def import_blagis(
    import_text: Callable[..., Awaitable[ImportReport]],
) -> Callable[..., Awaitable[ImportReport]]:
    """Import the sample plan of the Blagis (its commune and territory, unless given)."""

    async def run(**options: Any) -> ImportReport:
        return await import_text(SAMPLE_PLAN.read_text(encoding="utf-8"), **{**BLAGIS, **options})

    return run
