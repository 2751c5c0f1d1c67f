"""Fixtures for the reminder tests: the outbox tests' per-test stream and NATS client, and a scanner on the app's
database and clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI

from services.commitments.reminders.scanner import DeadlineScanner
from shared.clock import FixedClock
from tests.services.commitments.outbox.conftest import nats_client, settings, settings_overrides, stream

__all__ = ["nats_client", "settings", "settings_overrides", "stream"]


@pytest.fixture
def make_scanner(app: FastAPI, clock: FixedClock) -> Callable[..., DeadlineScanner]:
    def make(batch_size: int = 50) -> DeadlineScanner:
        return DeadlineScanner(app.state.sessionmaker, clock, batch_size=batch_size)

    return make
