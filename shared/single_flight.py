"""Concurrent calls for one key share one piece of work: the key checks between services (and against the
database) ask once for a burst of requests, not once per request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _CallerLeft(Exception):
    """The caller doing the work was cancelled before it finished: whoever waited on it asks again."""


class SingleFlight(Generic[K, V]):
    """The first caller for a key does the work; callers arriving meanwhile await its outcome (its result, or
    the same exception). Nothing is kept once it is done: caching the outcome is the caller's business."""

    def __init__(self) -> None:
        self._calls: dict[K, asyncio.Future[V]] = {}

    def in_flight(self, key: K) -> bool:
        return key in self._calls

    async def run(self, key: K, work: Callable[[], Awaitable[V]]) -> V:
        """The outcome of `work()` for `key`, shared with every concurrent caller for the same key."""
        while (pending := self._calls.get(key)) is not None:
            try:
                # Shielded: a waiter that is cancelled must not cancel the outcome the others wait for.
                return await asyncio.shield(pending)
            except _CallerLeft:
                continue
        outcome: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._calls[key] = outcome
        try:
            value = await work()
        except Exception as exc:
            outcome.set_exception(exc)
            raise
        except BaseException:  # cancelled (its client left): the others must not inherit that
            outcome.set_exception(_CallerLeft())
            raise
        else:
            outcome.set_result(value)
            return value
        finally:
            del self._calls[key]
            if outcome.done() and not outcome.cancelled():
                outcome.exception()  # marks it retrieved: no "exception was never retrieved" when nobody waited
