"""Idempotency-Key on POST: the same key and body give the same result; the same key with another body
is a 422. Records are kept per caller (hash of the presented credential)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.commitments.idempotency import repository
from services.commitments.idempotency.models import IdempotencyRecord
from shared.clock import Clock
from shared.problems import problem_response

logger = logging.getLogger(__name__)
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)


@dataclass
class _Captured:
    """The response the application gave, kept for a repeat of the request."""

    status: int = 500
    content_type: str | None = None
    body: list[bytes] = field(default_factory=list)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.app = app
        self.sessionmaker = sessionmaker
        self.clock = clock

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
        async with self.sessionmaker() as session, session.begin():
            record = await repository.get(session, caller, key)
            if record is not None and record.created_at < self.clock.now() - RETENTION:
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
                        created_at=self.clock.now(),
                    )
                )
                try:
                    await session.flush()
                except IntegrityError:
                    record = IdempotencyRecord(request_hash=fingerprint, status_code=None)
        if record is not None:
            await self._answer_repeat(record, fingerprint, scope, receive, send)
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
            await self._store(caller, key, captured)

    async def _store(self, caller: str, key: str, captured: _Captured) -> None:
        status = captured.status
        async with self.sessionmaker() as session, session.begin():
            if status >= 500 or status in (401, 429):
                # Nothing was done (or we can't tell): let the client retry with the same key.
                await repository.forget(session, caller, key)
                return
            record = await repository.get(session, caller, key)
            if record is not None:
                record.status_code = status
                record.content_type = captured.content_type
                record.body = b"".join(captured.body).decode("utf-8", "replace")

    async def _answer_repeat(
        self, record: IdempotencyRecord, fingerprint: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        path = scope.get("path")
        response: Response
        if record.request_hash != fingerprint:
            response = problem_response(
                422,
                "idempotency-key-reused",
                "Idempotency-Key déjà utilisée",
                "Cette Idempotency-Key a déjà servi pour une autre requête.",
                path,
            )
        elif record.status_code is None:
            response = problem_response(
                409,
                "idempotency-key-in-progress",
                "Requête en cours",
                "Une requête avec cette Idempotency-Key est en cours de traitement.",
                path,
            )
        else:
            response = Response(
                record.body or b"",
                status_code=record.status_code,
                media_type=record.content_type,
                headers={"Idempotent-Replayed": "true"},
            )
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def purge_expired(session: AsyncSession, clock: Clock) -> None:
    """Drop records older than the retention period."""
    await repository.delete_older_than(session, clock.now() - RETENTION)
