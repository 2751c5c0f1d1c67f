from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class CommitmentsSettings(ServiceSettings):
    """Settings of the commitments service (environment variables, no prefix: DATABASE_URL, NATS_URL …)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str = "sqlite:///data/commitments.db"
    # Run the outbox relay inside the API process (embedded default); set false when it runs on its own.
    relay_in_process: bool = True
    relay_batch_size: int = 200
    relay_poll_seconds: float = 5.0
    principal_cache_seconds: float = 5.0
    # A refused key is remembered this long (at most PRINCIPAL_CACHE_SECONDS): a burst with a bad key asks once.
    principal_refusal_cache_seconds: float = 5.0
    public_base_url: str = "http://127.0.0.1:8000"
    # A POST with an Idempotency-Key holds its key this long while it runs (retries get 409 with Retry-After);
    # a retry after that takes the key over and runs the request, for a replica may have died with it. Keep
    # it longer than any request takes (callers give up after 10 s: COMMITMENTS_TIMEOUT_SECONDS).
    idempotency_lease_seconds: float = 30.0


class ScannerSettings(CommitmentsSettings):
    """The deadline scanner's settings: the service's, plus SCANNER_BATCH_SIZE, SCANNER_POLL_SECONDS and
    IDEMPOTENCY_PURGE_SECONDS."""

    scanner_batch_size: int = 500
    scanner_poll_seconds: float = 30.0
    # The scanner process also deletes the Idempotency-Key records past their retention (24 h) this often
    # (0: never; not with --once).
    idempotency_purge_seconds: float = 3600.0
