"""Settings shared by every service; each service adds its own small class on top."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:  # imported when asked for: the holidays package costs every command's start otherwise
    from shared.bus import StreamSpec
    from shared.calendar import WorkingCalendar
    from shared.service_client import CallPolicy


class ServiceSettings(BaseSettings):
    """Every setting has a safe default for the embedded run and can be set by environment variable."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    data_dir: Path = Path("data")
    nats_url: str = "nats://127.0.0.1:4222"
    # Stream and subject prefix are settings so that test runs and several installations can share one
    # NATS server without seeing each other's events.
    events_stream: str = "COMMITMENTS"
    events_subject_prefix: str = "commitments"
    events_duplicate_window_seconds: float = 3600.0
    # Replicas of the event stream when a service creates it: 3 on a three-node NATS cluster (a stream that
    # already exists keeps its own). NATS_URL may then list the cluster's servers, separated by commas.
    events_stream_replicas: int = 1
    # The notifications service's own stream (what happened to each reminder, action links used): published by
    # it, read by the reporting service. Same dedup window as above.
    notifications_events_stream: str = "NOTIFICATIONS"
    notifications_events_subject_prefix: str = "notifications"
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str | None = None
    # Tracing costs ~10 % of a request's CPU: on by default only when traces have somewhere to go.
    tracing: bool | None = None
    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = 256 * 1024
    # Working days: Alsace-Moselle adds Good Friday and 26 December; some employers work on Whit Monday
    # (journée de solidarité). Deadlines and reminders of the whole installation follow these two settings.
    calendar_alsace_moselle: bool = False
    calendar_pentecost_monday_off: bool = True
    database_pool_size: int = 20
    # Overload (shared/admission.py): an API process serves at most this many requests at once (by default as
    # many as its pool's steady connections); the next ones wait up to REQUEST_QUEUE_TIMEOUT_SECONDS for a
    # turn, then get 503 with Retry-After. A database connection waited for longer than the pool timeout is
    # the same 503, never a 500.
    max_in_flight_requests: int | None = None
    request_queue_timeout_seconds: float = 0.05
    database_pool_timeout_seconds: float = 1.0
    # /healthz and /readyz of a process without an API (relay, scanner, consumers) on this port; none if unset.
    health_port: int | None = None

    def commitments_stream(self) -> StreamSpec:
        """Where the commitments service publishes its events."""
        from shared.bus import StreamSpec

        return StreamSpec(
            self.events_stream,
            self.events_subject_prefix,
            self.events_duplicate_window_seconds,
            self.events_stream_replicas,
        )

    def notifications_stream(self) -> StreamSpec:
        """Where the notifications service publishes its events."""
        from shared.bus import StreamSpec

        return StreamSpec(
            self.notifications_events_stream,
            self.notifications_events_subject_prefix,
            self.events_duplicate_window_seconds,
            self.events_stream_replicas,
        )

    @property
    def in_flight_limit(self) -> int:
        return self.max_in_flight_requests or self.database_pool_size

    @property
    def tracing_enabled(self) -> bool:
        return self.tracing if self.tracing is not None else bool(self.otel_exporter_otlp_endpoint)

    def working_calendar(self) -> WorkingCalendar:
        """The working-day calendar these settings describe."""
        from shared.calendar import WorkingCalendar

        return WorkingCalendar(
            alsace_moselle=self.calendar_alsace_moselle,
            pentecost_monday_is_holiday=self.calendar_pentecost_monday_off,
        )


class CommitmentsCallerSettings(ServiceSettings):
    """Settings of the services that call the commitments service (notifications, reporting): one client per
    process (shared/service_client.py)."""

    commitments_url: str = "http://127.0.0.1:8000"
    # The timeouts of one attempt, the connection pool, and the retries of idempotent calls (GETs, and POSTs
    # with an Idempotency-Key).
    commitments_connect_timeout_seconds: float = 2.0
    commitments_timeout_seconds: float = 10.0  # reading an answer (and writing a request)
    commitments_pool_timeout_seconds: float = 10.0  # waiting for a free connection of the pool
    commitments_max_connections: int = 32
    commitments_attempts: int = 3  # of one idempotent call, the first included (1: never retried)
    commitments_retry_initial_seconds: float = 0.1  # doubled at each retry, up to the maximum
    commitments_retry_max_seconds: float = 2.0
    # A longer Retry-After (the service overloaded) is not waited for: ServiceUnavailable at once.
    commitments_retry_after_max_seconds: float = 5.0

    def commitments_policy(self) -> CallPolicy:
        """How this process calls the commitments service."""
        from shared.service_client import CallPolicy

        return CallPolicy(
            connect_timeout_seconds=self.commitments_connect_timeout_seconds,
            read_timeout_seconds=self.commitments_timeout_seconds,
            write_timeout_seconds=self.commitments_timeout_seconds,
            pool_timeout_seconds=self.commitments_pool_timeout_seconds,
            max_connections=self.commitments_max_connections,
            max_keepalive_connections=self.commitments_max_connections,
            attempts=self.commitments_attempts,
            retry_initial_seconds=self.commitments_retry_initial_seconds,
            retry_max_seconds=self.commitments_retry_max_seconds,
            retry_after_max_seconds=self.commitments_retry_after_max_seconds,
        )
