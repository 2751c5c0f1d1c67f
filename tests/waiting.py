"""Waiting for a condition in a test: poll until it holds, and fail, naming what was awaited, if it never does.
The timeout is a bound on a broken run, not a timing assertion."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def wait_until(
    probe: Callable[[], Awaitable[T]], what: str, timeout: float = 60.0, interval: float = 0.05
) -> T: ...


@overload
async def wait_until(
    probe: Callable[[], T], what: str, timeout: float = 60.0, interval: float = 0.05
) -> T: ...


async def wait_until(
    probe: Callable[[], Any], what: str, timeout: float = 60.0, interval: float = 0.05
) -> Any:
    """Call `probe` (plain or async) until it returns something truthy, and return that; fail (with `what`)
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {what}")
        await asyncio.sleep(interval)
