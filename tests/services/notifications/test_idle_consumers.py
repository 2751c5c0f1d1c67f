"""An idle consumer is quiet: an empty fetch from the real nats-server (nats-py raises asyncio.TimeoutError or its
own TimeoutError) is the normal state, logged at DEBUG at most, in every pull loop of the service."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from services.notifications.config import NotificationsSettings
from services.notifications.consumer import worker
from services.notifications.webhooks.consumer import WebhookConsumer
from shared.bus import StreamSpec, ensure_stream
from shared.clock import FixedClock
from shared.db import create_engine, create_sessionmaker

PLAIN_TIMEOUT = "builtins.TimeoutError"  # asyncio.TimeoutError, as nats-py raises it besides its own
# nats-py raises a plain asyncio.TimeoutError when the fetch's deadline runs out between its own steps (on a
# loaded machine now and then); asked with a deadline this short, it does so in about one fetch in ten here.
PROVOKING_TIMEOUT_SECONDS = 0.005


class CountedFetches:
    """Wraps a real pull subscription: each fetch asks the real nats-server with a very short deadline, and
    what it gave (messages, or which exception nats-py raised) is recorded."""

    def __init__(self, subscription: JetStreamContext.PullSubscription) -> None:
        self.subscription = subscription
        self.outcomes: list[str] = []

    async def fetch(self, batch: int = 1, timeout: float | None = 5, **kwargs: Any) -> Any:
        try:
            messages = await self.subscription.fetch(batch, timeout=PROVOKING_TIMEOUT_SECONDS, **kwargs)
        except BaseException as exc:
            self.outcomes.append(type(exc).__module__ + "." + type(exc).__qualname__)
            raise
        self.outcomes.append(f"{len(messages)} message(s)")
        return messages

    def __getattr__(self, name: str) -> Any:
        return getattr(self.subscription, name)

    @property
    def idle_throughout(self) -> bool:
        return all(outcome.endswith("TimeoutError") or outcome == "0 message(s)" for outcome in self.outcomes)


async def run_until_both_timeouts_seen(run: Any, fetches: Any) -> CountedFetches:
    """Run a consumer loop until nats-py has raised both kinds of timeout into it (a bound, not a timing)."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop))
    deadline = asyncio.get_running_loop().time() + 60
    try:
        while not task.done() and asyncio.get_running_loop().time() < deadline:
            seen = fetches()
            if (
                seen is not None
                and PLAIN_TIMEOUT in seen.outcomes
                and "nats.errors.TimeoutError" in seen.outcomes
            ):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    seen = fetches()
    assert seen is not None and PLAIN_TIMEOUT in seen.outcomes, (
        "nats-py never raised a plain asyncio.TimeoutError"
    )
    return seen  # type: ignore[no-any-return]


def loud_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{record.levelname} {record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno > logging.DEBUG and record.name.startswith("services.notifications")
    ]


async def test_the_idle_webhook_consumer_logs_nothing(
    caplog: pytest.LogCaptureFixture,
    nats_client: NatsClient,
    stream: StreamSpec,
    notifications_database_url: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    engine = create_engine(notifications_database_url)
    counted: dict[str, CountedFetches] = {}

    class Observed(WebhookConsumer):
        async def subscribe(self) -> Any:
            counted["fetches"] = CountedFetches(await super().subscribe())
            return counted["fetches"]

    consumer = Observed(
        nats_client, stream, create_sessionmaker(engine), FixedClock(), durable="idle-webhooks"
    )
    try:
        fetches = await run_until_both_timeouts_seen(consumer.run, lambda: counted.get("fetches"))
    finally:
        if "fetches" in counted:  # else draining the connection waits out the pull subscription
            await counted["fetches"].subscription.unsubscribe()
        await engine.dispose()
    assert fetches.idle_throughout
    assert loud_records(caplog) == []


async def test_the_idle_reminder_consumer_logs_nothing(
    caplog: pytest.LogCaptureFixture,
    nats_client: NatsClient,
    stream: StreamSpec,
    notifications_settings: NotificationsSettings,
) -> None:
    caplog.set_level(logging.DEBUG)
    await ensure_stream(nats_client.jetstream(), stream)
    async with worker(notifications_settings, FixedClock(), nats_client) as running:
        await running.consumer.subscribe()
        assert running.consumer.subscription is not None
        fetches = CountedFetches(running.consumer.subscription)
        running.consumer.subscription = fetches  # type: ignore[assignment]
        await run_until_both_timeouts_seen(running.consumer.run, lambda: fetches)
    assert fetches.idle_throughout
    assert loud_records(caplog) == []
