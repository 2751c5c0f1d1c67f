"""The relay and the scanner, each in its own process, answer /healthz and /readyz on HEALTH_PORT: the relay is
not ready without NATS (it cannot publish), the scanner is (its events go to the outbox)."""

from __future__ import annotations

import pytest

from tests.probed_process import CLOSED_PORT_NATS, probe, running

pytestmark = pytest.mark.slow


def test_the_relay_is_not_ready_without_nats(database_url: str) -> None:
    with running(
        "services.commitments", ["relay"], {"DATABASE_URL": database_url, "NATS_URL": CLOSED_PORT_NATS}
    ) as (process, url):
        probe(process, url, "/healthz", 200)  # alive, waiting for NATS
        not_ready = probe(process, url, "/readyz", 503)
    assert not_ready.json() == {"status": "not ready", "checks": {"database": "ok", "nats": "unreachable"}}


def test_the_relay_is_ready_with_nats(
    database_url: str, nats_url: str, stream_names: tuple[str, str]
) -> None:
    with running(
        "services.commitments",
        ["relay"],
        {
            "DATABASE_URL": database_url,
            "NATS_URL": nats_url,
            "EVENTS_STREAM": stream_names[0] + "_PROBE",
            "EVENTS_SUBJECT_PREFIX": stream_names[1] + "probe",
        },
    ) as (process, url):
        ready = probe(process, url, "/readyz", 200)
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "nats": "ok"}}


def test_the_scanner_is_ready_without_nats(database_url: str) -> None:
    with running(
        "services.commitments",
        ["scan"],
        {"DATABASE_URL": database_url, "NATS_URL": CLOSED_PORT_NATS, "SCANNER_POLL_SECONDS": "3600"},
    ) as (process, url):
        ready = probe(process, url, "/readyz", 200)
    assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}
