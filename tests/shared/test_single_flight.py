"""SingleFlight (pure logic): concurrent callers for one key share one piece of work, its result or its error;
nothing is kept once it is done; a cancelled caller neither cancels the others nor leaves them waiting."""

from __future__ import annotations

import asyncio

import pytest

from shared.single_flight import SingleFlight


async def test_concurrent_callers_share_one_call() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    calls = 0
    gate = asyncio.Event()

    async def work() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    waiting = [asyncio.ensure_future(flight.run("k", work)) for _ in range(100)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [42] * 100
    assert calls == 1
    assert not flight.in_flight("k")
    assert await flight.run("k", work) == 42 and calls == 2  # done: the next call works again


async def test_other_keys_do_not_wait() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "slow"

    async def quick() -> str:
        return "quick"

    pending = asyncio.ensure_future(flight.run("a", slow))
    await asyncio.sleep(0)
    assert await flight.run("b", quick) == "quick"
    gate.set()
    assert await pending == "slow"


async def test_an_error_is_shared_then_forgotten() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    calls = 0
    gate = asyncio.Event()

    async def failing() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise LookupError("away")

    waiting = [asyncio.ensure_future(flight.run("k", failing)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(outcome, LookupError) for outcome in outcomes) and calls == 1
    with pytest.raises(LookupError):
        await flight.run("k", failing)
    assert calls == 2


async def test_a_cancelled_first_caller_hands_the_work_on() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    calls = 0
    gates = [asyncio.Event(), asyncio.Event()]

    async def work() -> int:
        nonlocal calls
        calls += 1
        await gates[calls - 1].wait()
        return calls

    first = asyncio.ensure_future(flight.run("k", work))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(flight.run("k", work))
    await asyncio.sleep(0)
    first.cancel()  # its client left
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.sleep(0)
    gates[1].set()
    assert await second == 2  # the waiter asked again instead of inheriting the cancellation


async def test_a_cancelled_waiter_does_not_cancel_the_others() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    gate = asyncio.Event()

    async def work() -> int:
        await gate.wait()
        return 7

    first = asyncio.ensure_future(flight.run("k", work))
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(flight.run("k", work))
    await asyncio.sleep(0)
    waiter.cancel()
    gate.set()
    assert await first == 7
    assert waiter.cancelled()
