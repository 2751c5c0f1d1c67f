from __future__ import annotations

from datetime import time

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import CommitmentsCallerSettings


class ReportingSettings(CommitmentsCallerSettings):
    """Settings of the reporting service (environment variables; the shared ones have no prefix: NATS_URL,
    EVENTS_STREAM and NOTIFICATIONS_EVENTS_STREAM name the two streams it reads; the service's own database is
    REPORTING_DATABASE_URL)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    # Its own database: DATABASE_URL belongs to the commitments service when both run on one machine.
    reporting_database_url: str = "sqlite:///data/reporting.db"
    # Key checks (GET /v1/auth/whoami) through its client of the commitments service (COMMITMENTS_*).
    principal_cache_seconds: float = 5.0
    principal_refusal_cache_seconds: float = 5.0

    # The projector: one durable pull consumer per stream, batches applied in one transaction each.
    projector_durable: str = "reporting"
    projector_batch_size: int = 500
    projector_ack_wait_seconds: float = 60.0
    # A late item is "very overdue" from this many working days past its date (the reminder rules' very-late
    # step, +20, by default).
    very_overdue_working_days: int = 20

    # The address this service is reached at, which the calendar feeds' secret URLs are given with.
    reporting_public_url: str = "http://127.0.0.1:8002"
    # The page a calendar event links to, {item_id} replaced by the item's id (empty: the item's timeline in
    # this service's reports, at REPORTING_PUBLIC_URL).
    feed_item_url: str = ""
    # The calendar feeds' alarms: the reminders sent this many working days before a deadline (the commitments
    # service's default rules; its per-plan, partner and item overrides are not in the events).
    feed_alarm_working_days: tuple[int, ...] = (10, 3, 1)
    # An alarm on the deadline's day too, as the reminder sent that day.
    feed_alarm_on_due_day: bool = True
    # The hour (Europe/Paris) the alarms ring: the opening of the reminders' sending window.
    feed_alarm_time: time = time(8, 30)
    # The intranet page (/tableau-de-bord, services/reporting/pages/). Staff sign in once with their API key;
    # the session cookie is signed with this secret and holds the key's id, role and partner, never the key.
    # Set it (a long random string, the same on every replica): when empty, each process draws its own at
    # start, and sessions end with the process.
    pages_session_secret: str = ""
    # A session ends this long after sign-in, and at once when its key is revoked (the api_key.revoked event;
    # a process reads back from the stream the revocations of this span before its start).
    pages_session_max_age_seconds: int = 3600
    # The cookie's Secure flag: unset, set when the request came over https (behind a proxy, with
    # FORWARDED_ALLOW_IPS naming it so that uvicorn sees the scheme the browser used); true or false forces it.
    pages_cookie_secure: bool | None = None
    # Off by default. The name of a header (e.g. X-Remote-User) set by the intranet's authenticating reverse
    # proxy: the user it names is signed in without the form, if the request came straight from one of
    # PAGES_TRUSTED_PROXIES and PAGES_TRUSTED_USERS maps that user.
    pages_trusted_header: str = ""
    # The proxies' addresses or networks (JSON list, e.g. ["10.0.0.5", "10.1.0.0/16"]); the header of a request
    # from anywhere else is ignored. The address is the peer as uvicorn reports it: a proxy named in
    # FORWARDED_ALLOW_IPS is replaced by the browser's address it forwards, so leave the proxy out of
    # FORWARDED_ALLOW_IPS in this mode (and set PAGES_COOKIE_SECURE if it ends TLS).
    pages_trusted_proxies: list[str] = Field(default_factory=list)
    # The proxy's users and what they may see (JSON object): "admin", "city" or "reader", or
    # "partner:<partner id>" (that partner's organisation only), e.g. {"mdupont": "city",
    # "jmartin@bailleur.fr": "partner:6f1c…"}. A user not listed is refused.
    pages_trusted_users: dict[str, str] = Field(default_factory=dict)

    def feed_item_url_template(self) -> str:
        """The page a calendar event links to, with an {item_id} placeholder."""
        return self.feed_item_url or (
            f"{self.reporting_public_url.rstrip('/')}/v1/reports/items/{{item_id}}/timeline"
        )

    @property
    def database_url(self) -> str:
        return self.reporting_database_url
