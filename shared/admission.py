"""Admission control for an API process: overload gets a fast 503, not a slow 500.

At most `max_in_flight` requests are served at once; the next ones wait their turn up to a short queue
timeout, then get `503` problem+json (`code: overloaded`) with `Retry-After`. A database pool timeout
(`sqlalchemy.exc.TimeoutError`) anywhere below gets the same 503 instead of a 500. And a request whose client
has gone away (uvicorn then answers `receive()` with `http.disconnect`) is cancelled, waiting or running, so
that it stops holding its turn and its database connection. `/healthz`, `/readyz` and `/metrics` are never
held back.

A pure ASGI middleware (not BaseHTTPMiddleware, which would hide `http.disconnect` from the endpoint); place it
inside the body-size limit, which has read the body by then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import problem_response

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
OVERLOADED = "overloaded"


@dataclass
class AdmissionStats:
    """What the admission path did, since the process started (reported by /readyz)."""

    refused: int = 0  # no turn within the queue timeout: 503
    pool_timeouts: int = 0  # no database connection within the pool timeout: 503
    abandoned: int = 0  # the client left while its request waited or ran: cancelled


@dataclass
class Admission:
    """The turns of one API process: shared by its middleware and whoever reports on it."""

    max_in_flight: int
    queue_timeout_seconds: float
    stats: AdmissionStats = field(default_factory=AdmissionStats)

    def __post_init__(self) -> None:
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._turns = asyncio.Semaphore(self.max_in_flight)
        self._in_flight = 0
        self._waiting = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return self._waiting

    async def take_turn(self) -> bool:
        """A turn now, or after a short wait in the queue: True with a turn (give it back with `end_turn`),
        False when none came within the queue timeout, or the queue is already as long as the bound (under
        sustained overload a newcomer would only wait out the timeout, then be refused all the same)."""
        if self._turns.locked():  # only then does acquire() wait
            if self.queue_timeout_seconds <= 0 or self._waiting >= self.max_in_flight:
                return False
            self._waiting += 1
            try:
                async with asyncio.timeout(self.queue_timeout_seconds):
                    await self._turns.acquire()
            except TimeoutError:
                return False
            finally:
                self._waiting -= 1
        else:
            await self._turns.acquire()
        self._in_flight += 1
        return True

    def end_turn(self, _done: object = None) -> None:
        """Give a turn back (also a task's done-callback)."""
        self._in_flight -= 1
        self._turns.release()

    def report(self) -> dict[str, int]:
        return {
            "in_flight": self._in_flight,
            "max_in_flight": self.max_in_flight,
            "waiting": self._waiting,
            "refused": self.stats.refused,
            "pool_timeouts": self.stats.pool_timeouts,
            "abandoned": self.stats.abandoned,
        }


class _Exchange:
    """One request's side of the connection: the body read up front and replayed to the app, then a
    `receive()` that only answers when the client has gone; and whether the response has begun or ended."""

    def __init__(self, receive: Receive, send: Send, body: list[Message]) -> None:
        self._receive = receive
        self._send = send
        self._body = body
        self._gone = asyncio.Event()
        self.response_started = False
        self.response_complete = False

    async def receive(self) -> Message:
        if self._body:
            return self._body.pop(0)
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            # Before the server's send: uvicorn also answers receive() with http.disconnect once the response
            # is complete, and that must not read as the client leaving.
            self.response_complete = True
        await self._send(message)

    @property
    def left(self) -> bool:
        """The client disconnected before the response was complete."""
        return self._gone.is_set()

    async def watch(self) -> None:
        """Return when the connection ends: `left` then says whether the client left before its answer."""
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                if not self.response_complete:
                    self._gone.set()
                return


class AdmissionControl:
    def __init__(
        self,
        app: ASGIApp,
        admission: Admission,
        bypass_paths: Iterable[str] = ("/healthz", "/readyz", "/metrics"),
    ) -> None:
        self.app = app
        self.admission = admission
        self.bypass_paths = frozenset(bypass_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.bypass_paths:
            await self.app(scope, receive, send)
            return
        body: list[Message] = []
        while True:  # read the body first: afterwards the server's receive() only says when the client leaves
            message = await receive()
            if message["type"] != "http.request":
                return  # gone before anything was done for it
            body.append(message)
            if not message.get("more_body", False):
                break
        exchange = _Exchange(receive, send, body)
        # The queue wait is short and holds nothing but the turn it waits for: a client that leaves meanwhile is
        # seen as soon as its request begins, below.
        if not await self.admission.take_turn():
            self.admission.stats.refused += 1
            await self._overloaded(
                scope,
                exchange,
                "Le service reçoit plus de requêtes qu'il ne peut en traiter ; "
                f"réessayez dans {RETRY_AFTER_SECONDS} seconde.",
            )
            return
        # The request runs in a task of its own, which is cancelled if the client leaves: cancelled once, it lets
        # the app's cleanup (closing its session, giving the connection back to the pool) await normally, where
        # an anyio cancel scope would cancel every await of that cleanup again.
        served = asyncio.ensure_future(self._serve(scope, exchange))
        served.add_done_callback(self.admission.end_turn)  # however the task ends, even cancelled unstarted
        watcher = asyncio.ensure_future(exchange.watch())
        watcher.add_done_callback(lambda _: served.cancel() if exchange.left else None)
        try:
            await served  # cancelled with it if this request is (server shutdown)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if exchange.left and not (current is not None and current.cancelling()):
                self.admission.stats.abandoned += 1
                return
            raise
        finally:
            watcher.cancel()

    async def _serve(self, scope: Scope, exchange: _Exchange) -> None:
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except PoolTimeout:
            if exchange.response_started:
                raise
            self.admission.stats.pool_timeouts += 1
            logger.warning(
                "no database connection within the pool timeout on %s %s: 503", scope["method"], scope["path"]
            )
            await self._overloaded(
                scope,
                exchange,
                "Aucune connexion à la base de données ne s'est libérée à "
                f"temps ; réessayez dans {RETRY_AFTER_SECONDS} seconde.",
            )

    @staticmethod
    async def _overloaded(scope: Scope, exchange: _Exchange, detail: str) -> None:
        response = problem_response(503, OVERLOADED, "Service surchargé", detail, scope.get("path"))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        await response(scope, exchange.receive, exchange.send)
