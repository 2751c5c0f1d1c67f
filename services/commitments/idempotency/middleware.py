"""Idempotency-Key on POST: the same key and body give the same result; the same key with another body
is a 422. Records are kept per caller (hash of the presented credential), for RETENTION (retention.py).

While a request runs, its record is « in progress » under a lease (IDEMPOTENCY_LEASE_SECONDS): the same key
meanwhile gets 409 with Retry-After. A request that has not answered by the end of its lease (its replica was
killed) is taken over by the next retry, which runs it again; of two such retries at once, one takes it (a
conditional UPDATE), and only the attempt holding the key records its answer."""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.commitments.idempotency import repository
from services.commitments.idempotency.models import IdempotencyRecord
from services.commitments.idempotency.retention import RETENTION
from shared.clock import Clock
from shared.problems import problem_response

logger = logging.getLogger(__name__)
MAX_KEY_LENGTH = 255
DEFAULT_LEASE = timedelta(seconds=30)


@dataclass
class _Captured:
    """The response the application gave, kept for a repeat of the request."""

    status: int = 500
    content_type: str | None = None
    body: list[bytes] = field(default_factory=list)


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self.app = app
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.lease = lease  # how long a request in progress holds its key (IDEMPOTENCY_LEASE_SECONDS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        raw_key = headers.get(b"idempotency-key")
        if scope["type"] != "http" or scope["method"] != "POST" or raw_key is None:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        key = raw_key.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            await problem_response(
                400,
                "invalid-idempotency-key",
                "Idempotency-Key invalide",
                f"La clé doit faire 1 à {MAX_KEY_LENGTH} caractères imprimables.",
                path,
            )(scope, receive, send)
            return
        credential = headers.get(b"authorization", b"") + b"|" + headers.get(b"x-api-key", b"")
        caller = hashlib.sha256(credential).hexdigest()
        body = await _read_body(receive)
        fingerprint = hashlib.sha256(
            b"\n".join([scope["method"].encode(), path.encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        claim = await self._claim(caller, key, fingerprint, scope)
        if isinstance(claim, Response):
            await claim(scope, receive, send)
            return

        captured = _Captured()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured.status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        captured.content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                captured.body.append(message.get("body", b""))
            await send(message)

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            await self.app(scope, replay_body, capture)
        finally:
            await self._store(caller, key, claim, captured)

    async def _claim(self, caller: str, key: str, fingerprint: str, scope: Scope) -> int | Response:
        """The attempt this request runs as (a new key: 1; a key whose lease ran out: the next one), or the
        answer to give instead (the first answer replayed, 422, or 409 while another attempt holds the key)."""
        now = self.clock.now()
        path: str = scope["path"]
        async with self.sessionmaker() as session, session.begin():
            record = await repository.get(session, caller, key)
            attempt = 1
            if record is not None and record.created_at < now - RETENTION:
                # Expired: the key starts afresh (a later attempt still, should the old one ever answer).
                attempt = record.attempt + 1
                await repository.remove(session, record)
                record = None
            if record is None:
                session.add(
                    IdempotencyRecord(
                        caller_hash=caller,
                        key=key,
                        method=scope["method"],
                        path=path,
                        request_hash=fingerprint,
                        created_at=now,
                        locked_until=now + self.lease,
                        attempt=attempt,
                    )
                )
                try:
                    await session.flush()
                except IntegrityError:  # the same key at the same time: the other request has it
                    return self._in_progress(self.lease, path)
                return attempt
            if record.request_hash != fingerprint:
                return problem_response(
                    422,
                    "idempotency-key-reused",
                    "Idempotency-Key déjà utilisée",
                    "Cette Idempotency-Key a déjà servi pour une autre requête.",
                    path,
                )
            if record.status_code is not None:
                return Response(
                    record.body or b"",
                    status_code=record.status_code,
                    media_type=record.content_type,
                    headers={"Idempotent-Replayed": "true"},
                )
            lease_end = record.locked_until or record.created_at + self.lease
            if lease_end >= now:
                return self._in_progress(lease_end - now, path)
            # The attempt holding the key has not answered within its lease (its replica was killed): this
            # retry takes the key over, unless another one just did (the UPDATE decides, not what was read).
            taken = await repository.take_over(session, caller, key, fingerprint, now, self.lease)
            if taken is None:
                return self._in_progress(self.lease, path)
            logger.warning(
                "Idempotency-Key of %s %s left in progress past its lease: taken over (attempt %d)",
                scope["method"],
                path,
                taken,
            )
            return taken

    def _in_progress(self, remaining: timedelta, path: str) -> Response:
        """409 while another attempt holds the key, with Retry-After: the seconds left of its lease, by the end
        of which a retry gets either its answer or the key."""
        response = problem_response(
            409,
            "idempotency-key-in-progress",
            "Requête en cours",
            "Une requête avec cette Idempotency-Key est en cours de traitement. Réessayez plus tard avec la "
            "même clé (en-tête Retry-After) : vous obtiendrez sa réponse, ou, si elle n'a pas abouti, la "
            "requête sera traitée à nouveau.",
            path,
        )
        response.headers["Retry-After"] = str(max(1, math.ceil(remaining.total_seconds())))
        return response

    async def _store(self, caller: str, key: str, attempt: int, captured: _Captured) -> None:
        """Keep the answer of `attempt` for the repeats, or forget the key if nothing was done; neither when the
        key was taken over meanwhile (this attempt outlived its lease): the new attempt's answer is the one."""
        status = captured.status
        async with self.sessionmaker() as session, session.begin():
            if status >= 500 or status in (401, 429):
                # Nothing was done (or we can't tell): let the client retry with the same key.
                held = await repository.forget(session, caller, key, attempt)
            else:
                held = await repository.complete(
                    session,
                    caller,
                    key,
                    attempt,
                    status,
                    captured.content_type,
                    b"".join(captured.body).decode("utf-8", "replace"),
                )
        if not held:
            logger.warning(
                "answer %d of an Idempotency-Key request not kept: the key was taken over after its lease",
                status,
            )


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
