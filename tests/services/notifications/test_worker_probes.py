"""The notifications worker (`consume`) answers /healthz and /readyz on HEALTH_PORT: not ready without NATS,
whose events it consumes; ready once connected."""

from __future__ import annotations

import pytest

from tests.probed_process import CLOSED_PORT_NATS, probe, running

pytestmark = pytest.mark.slow


def worker_env(
    notifications_database_url: str, nats_url: str, stream_names: tuple[str, str]
) -> dict[str, str]:
    return {
        "NOTIFICATIONS_DATABASE_URL": notifications_database_url,
        "NATS_URL": nats_url,
        "COMMITMENTS_API_KEY": "eng_unused-here",
        "ACTION_LINK_SECRET": "test-action-link-secret",
        "EVENTS_STREAM": stream_names[0] + "_WPROBE",
        "EVENTS_SUBJECT_PREFIX": stream_names[1] + "wprobe",
        "NOTIFICATIONS_EVENTS_STREAM": stream_names[0] + "_WPROBE_EV",
        "NOTIFICATIONS_EVENTS_SUBJECT_PREFIX": stream_names[1] + "wprobeev",
        "CONSUMER_DURABLE": "probe-reminders",
        "WEBHOOK_CONSUMER_DURABLE": "probe-webhooks",
    }


def test_the_worker_is_not_ready_without_nats(
    notifications_database_url: str, stream_names: tuple[str, str]
) -> None:
    with running(
        "services.notifications",
        ["consume"],
        worker_env(notifications_database_url, CLOSED_PORT_NATS, stream_names),
    ) as (process, url):
        probe(process, url, "/healthz", 200)
        not_ready = probe(process, url, "/readyz", 503)
    assert not_ready.json() == {"status": "not ready", "checks": {"database": "ok", "nats": "unreachable"}}


def test_the_worker_is_ready_with_nats(
    notifications_database_url: str, nats_url: str, stream_names: tuple[str, str]
) -> None:
    with running(
        "services.notifications", ["consume"], worker_env(notifications_database_url, nats_url, stream_names)
    ) as (process, url):
        ready = probe(process, url, "/readyz", 200)
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "nats": "ok"}}
