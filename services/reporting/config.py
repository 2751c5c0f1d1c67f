from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.service_client import CallPolicy


class ReportingSettings(ServiceSettings):
    """Settings of the reporting service (environment variables; the shared ones have no prefix: NATS_URL,
    EVENTS_STREAM and NOTIFICATIONS_EVENTS_STREAM name the two streams it reads; the service's own database is
    REPORTING_DATABASE_URL)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    # Its own database: DATABASE_URL belongs to the commitments service when both run on one machine.
    reporting_database_url: str = "sqlite:///data/reporting.db"
    # Key checks (GET /v1/auth/whoami) through one client of the commitments service per process
    # (shared/service_client.py), the same settings as the notifications service's.
    commitments_url: str = "http://127.0.0.1:8000"
    commitments_connect_timeout_seconds: float = 2.0
    commitments_timeout_seconds: float = 10.0
    commitments_pool_timeout_seconds: float = 10.0
    commitments_max_connections: int = 32
    commitments_attempts: int = 3
    commitments_retry_initial_seconds: float = 0.1
    commitments_retry_max_seconds: float = 2.0
    commitments_retry_after_max_seconds: float = 5.0
    principal_cache_seconds: float = 5.0
    principal_refusal_cache_seconds: float = 5.0

    # The projector: one durable pull consumer per stream, batches applied in one transaction each.
    projector_durable: str = "reporting"
    projector_batch_size: int = 500
    projector_ack_wait_seconds: float = 60.0
    # A late item is "very overdue" from this many working days past its date (the reminder rules' very-late
    # step, +20, by default).
    very_overdue_working_days: int = 20

    def commitments_policy(self) -> CallPolicy:
        """How this process calls the commitments service."""
        return CallPolicy(connect_timeout_seconds=self.commitments_connect_timeout_seconds,
                          read_timeout_seconds=self.commitments_timeout_seconds,
                          write_timeout_seconds=self.commitments_timeout_seconds,
                          pool_timeout_seconds=self.commitments_pool_timeout_seconds,
                          max_connections=self.commitments_max_connections,
                          max_keepalive_connections=self.commitments_max_connections,
                          attempts=self.commitments_attempts,
                          retry_initial_seconds=self.commitments_retry_initial_seconds,
                          retry_max_seconds=self.commitments_retry_max_seconds,
                          retry_after_max_seconds=self.commitments_retry_after_max_seconds)

    @property
    def database_url(self) -> str:
        return self.reporting_database_url
