from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import CommitmentsCallerSettings


class NotificationsSettings(CommitmentsCallerSettings):
    """Settings of the notifications service (environment variables; the shared ones have no prefix:
    NATS_URL, EVENTS_STREAM …; the service's own database is NOTIFICATIONS_DATABASE_URL)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    # Its own database: DATABASE_URL belongs to the commitments service when both run on one machine.
    notifications_database_url: str = "sqlite:///data/notifications.db"
    # A key of role `service` on the commitments service: reads reminder contexts, acts for a contact.
    commitments_api_key: str = ""
    principal_cache_seconds: float = 5.0
    # A refused key is remembered this long (at most PRINCIPAL_CACHE_SECONDS): a burst with a bad key asks once.
    principal_refusal_cache_seconds: float = 5.0
    public_base_url: str = "http://127.0.0.1:8001"
    # Signs the action links of reminder emails (/actions/{token}); the service refuses to start without it.
    action_link_secret: str = ""
    action_link_lifetime_days: float = 30.0

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_starttls: bool = False
    smtp_tls: bool = False  # implicit TLS (port 465)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 30.0
    smtp_connections: int = 4
    mail_sender: str = "Ville de Sceaux <engagements@ville-sceaux.fr>"
    # Right-hand side of Message-IDs; by default the sender address's domain.
    mail_domain: str | None = None

    consumer_durable: str = "notifications"
    # One transaction and one reminder-context question per distinct deadline in a batch. 500 sends about 8%
    # more mails a second than 200 (and 200 about 10% more than 50) in bench notifications_throughput; a batch
    # of 500 distinct deadlines waits ~5 s for its questions (~11 ms each), far within the ack wait.
    consumer_batch_size: int = 500
    # How long NATS waits for an ack before redelivering; the consumer commits well within it.
    consumer_ack_wait_seconds: float = 60.0
    # Deliveries of one event before NATS gives up on it (5 s doubling to 5 min).
    consumer_max_deliver: int = 100
    sender_batch_size: int = 100
    sender_poll_seconds: float = 2.0
    # This process's sender identity: a restarted worker takes back at once what the same identity held. Unset:
    # "<host name>/<slot>", the slot locked in DATA_DIR (deliveries/claims.py). Set it per replica when several
    # hosts share one name, or several processes of one host do not share DATA_DIR.
    sender_worker_id: str | None = None
    # A claim not renewed within this lease is taken by any sender: for a worker that never comes back.
    sender_lease_seconds: float = 120.0

    # SMTP 4xx: retry after retry_initial_seconds, times retry_multiplier each time, capped at
    # retry_max_interval_seconds, and give up retry_give_up_seconds after the first attempt (RFC 5321: 4-5 days).
    retry_initial_seconds: float = 60.0
    retry_multiplier: float = 2.0
    retry_max_interval_seconds: float = 3600.0
    retry_give_up_seconds: float = 4 * 24 * 3600.0

    # The weekly digest of "approaching" reminders, for contacts who chose it (Europe/Paris time).
    digest_weekday: int = 0  # Monday
    digest_time: str = "08:30"

    # Webhooks (services/notifications/webhooks/): targets must be public https addresses unless these allow
    # plain http or private addresses (tests, a lab intranet); retries back off exponentially up to
    # webhook_max_attempts; a subscription is disabled after webhook_disable_after_failures deliveries failed
    # in a row, or at once on 410 Gone; after a secret rotation the old secret keeps signing for a grace period.
    webhook_allow_http: bool = False
    webhook_allow_private_targets: bool = False
    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = 8
    webhook_retry_initial_seconds: float = 30.0
    webhook_retry_multiplier: float = 2.0
    webhook_retry_max_interval_seconds: float = 6 * 3600.0
    webhook_disable_after_failures: int = 3
    webhook_secret_rotation_grace_seconds: float = 24 * 3600.0
    webhook_consumer_durable: str = "notifications-webhooks"
    webhook_concurrency: int = 10
    webhook_poll_seconds: float = 2.0

    # The service's own events (delivery.*, action_link.used) go to its outbox; the relay publishes them to
    # NOTIFICATIONS_EVENTS_STREAM. It runs inside `consume` unless OUTBOX_RELAY_IN_WORKER is false (then run
    # `relay` on its own). The API wakes it over NATS after a commit that wrote events (action links, bounces).
    outbox_relay_in_worker: bool = True
    outbox_relay_batch_size: int = 200
    outbox_relay_poll_seconds: float = 5.0

    @property
    def database_url(self) -> str:
        return self.notifications_database_url

    @property
    def message_id_domain(self) -> str:
        if self.mail_domain:
            return self.mail_domain
        address = self.mail_sender.rsplit("<", 1)[-1].rstrip(">")
        return address.rsplit("@", 1)[-1] or "localhost"
