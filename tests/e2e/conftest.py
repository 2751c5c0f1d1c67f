"""Flows across services reuse the notifications tests' fixtures: the commitments service over HTTP (relay in
process), the notifications database, a stream per test and a real SMTP server."""

from tests.services.notifications.conftest import (  # noqa: F401  (fixtures)
    commitments,
    nats_client,
    notifications_database_url,
    notifications_settings,
    sink,
    stream,
)
