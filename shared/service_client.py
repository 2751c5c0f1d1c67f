"""Calling another service of the project over HTTP: one pooled client per process and per service called,
explicit timeouts, retries of idempotent calls only, and the other service's problem+json turned into this
service's domain errors with its French `detail` passed on.

A service wraps one ServiceClient in a class with the calls it makes (the notifications service:
services/notifications/commitments_client.py); docs/architecture.md, "Calling another service", says how."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
import stamina

from shared.problems import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
    Unauthorized,
)
from shared.telemetry import instrument_http_client

logger = logging.getLogger(__name__)

# Sending one of these again does no more than sending it once (RFC 9110 §9.2.2). A POST joins them when it
# carries an Idempotency-Key, which the other service honours by replaying its first answer.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Answers that say "not now" rather than "no": asked again after a pause (the Retry-After given, if any).
# Every other 4xx is a refusal that asking again cannot change.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# The connection failed or broke: the same request may be sent again. Not a read timeout: the other service is
# working on it, and asking again would double both its load and the caller's wait.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
_PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "code"})
# A refusal of the other service becomes the domain error of its status here, with its detail and extensions.
_REFUSALS: dict[int, type[DomainError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    422: InvalidInput,
}


@dataclass(frozen=True)
class CallPolicy:
    """Timeouts, connection pool and retries of the calls to one service."""

    connect_timeout_seconds: float = 2.0
    read_timeout_seconds: float = 10.0
    write_timeout_seconds: float = 10.0
    pool_timeout_seconds: float = 10.0  # waiting for a free connection of the pool
    max_connections: int = 32
    max_keepalive_connections: int = 16
    attempts: int = 3  # of one idempotent call, the first included (1: never retried)
    retry_initial_seconds: float = 0.1  # first pause; doubled at each retry, plus up to as much jitter
    retry_max_seconds: float = 2.0
    # A Retry-After longer than this is not waited for: the caller hears at once that the service is busy.
    retry_after_max_seconds: float = 5.0
    retry_budget_seconds: float = 15.0  # no retry starts after this long since the first attempt

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout_seconds,
            read=self.read_timeout_seconds,
            write=self.write_timeout_seconds,
            pool=self.pool_timeout_seconds,
        )

    def limits(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=self.max_connections, max_keepalive_connections=self.max_keepalive_connections
        )


class _NotNow(Exception):
    """An answer worth asking again for (RETRYABLE_STATUSES), raised to the retry loop."""

    def __init__(self, response: httpx.Response) -> None:
        request = response.request
        super().__init__(f"HTTP {response.status_code} from {request.method} {request.url.path}")
        self.response = response
        self.retry_after = retry_after_seconds(response)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The pause a Retry-After header asks for, in seconds (the project's services give seconds; an HTTP date,
    which would need the current time, counts as none)."""
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


class ServiceClient:
    """One service as another one calls it. Create one per process (it holds the connection pool) and close
    it on the way out."""

    def __init__(
        self,
        base_url: str,
        name: str,
        policy: CallPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # `name` as French sentences start with it: "Le service des engagements".
        self.name = name
        self.policy = policy or CallPolicy()
        self.http = httpx.AsyncClient(
            base_url=base_url, timeout=self.policy.timeout(), limits=self.policy.limits(), transport=transport
        )
        # A span per request, and the caller's trace carried on by the service called.
        instrument_http_client(self.http)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """The service's 2xx answer. A refusal (4xx) is raised as the domain error of its status with the
        problem's French detail and extensions; ServiceUnavailable when the service cannot answer
        (unreachable, too slow, 5xx, still busy after the retries). Only idempotent calls are retried: GET and
        the like, and a POST that carries an Idempotency-Key."""
        method = method.upper()
        headers = dict(headers or {})
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        retried = method in IDEMPOTENT_METHODS or idempotency_key is not None
        try:
            response = await self._send(retried, method, path, params=params, json=json, headers=headers)
        except _NotNow as busy:
            response = busy.response
        except httpx.TimeoutException as exc:
            logger.warning("%s %s%s: %s", method, self.http.base_url, path, type(exc).__name__)
            raise ServiceUnavailable(
                f"{self.name} n'a pas répondu à temps ; réessayez dans un instant."
            ) from exc
        except httpx.TransportError as exc:
            logger.warning("%s %s%s: %r", method, self.http.base_url, path, exc)
            raise ServiceUnavailable(
                f"{self.name} est injoignable pour le moment ; réessayez dans un instant."
            ) from exc
        if response.is_success:
            return response
        raise self.refusal(response)

    async def _send(self, retried: bool, method: str, path: str, **request: Any) -> httpx.Response:
        if not retried or self.policy.attempts <= 1:
            return await self.http.request(method, path, **request)
        policy = self.policy
        async for attempt in stamina.retry_context(
            on=self._worth_retrying,
            attempts=policy.attempts,
            timeout=policy.retry_budget_seconds,
            wait_initial=policy.retry_initial_seconds,
            wait_max=policy.retry_max_seconds,
            wait_jitter=policy.retry_initial_seconds,
        ):
            with attempt:
                response = await self.http.request(method, path, **request)
                if response.status_code in RETRYABLE_STATUSES:
                    raise _NotNow(response)
                return response
        raise AssertionError("stamina raises the last error once the attempts are spent")  # pragma: no cover

    def _worth_retrying(self, error: Exception) -> bool | float:
        """Whether to try again after `error`, and after how long when the service said (Retry-After)."""
        if isinstance(error, _NotNow):
            if error.retry_after is None:
                return True
            return error.retry_after if error.retry_after <= self.policy.retry_after_max_seconds else False
        return isinstance(error, RETRYABLE_ERRORS)

    def refusal(self, response: httpx.Response) -> DomainError:
        """The domain error an unsuccessful answer is here: a 4xx with the problem's own detail, code and
        extensions; ServiceUnavailable for a 5xx or a service still busy."""
        status = response.status_code
        if status >= 500 or status in RETRYABLE_STATUSES:
            logger.warning("%s %s answered %s", response.request.method, response.request.url, status)
            return ServiceUnavailable(
                f"{self.name} est momentanément indisponible (HTTP {status}) ; réessayez dans un instant."
            )
        problem = _problem(response)
        detail = problem.get("detail")
        if not isinstance(detail, str) or not detail:
            detail = f"{self.name} a refusé la demande (HTTP {status})."
        error = _REFUSALS.get(status, DomainError)(
            detail, **{name: value for name, value in problem.items() if name not in _PROBLEM_MEMBERS}
        )
        error.status = status
        for member in ("code", "title"):
            if isinstance(problem.get(member), str) and problem[member]:
                setattr(error, member, problem[member])
        return error


def _problem(response: httpx.Response) -> dict[str, Any]:
    """The RFC 9457 problem of an answer ({} when the body is not one)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
