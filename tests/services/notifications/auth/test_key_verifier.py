"""Key checks against the real commitments service over HTTP: concurrent requests with one key share one
`whoami`, a refusal is remembered briefly, an error is not, and a revocation still evicts at once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.notifications.auth.service import KeyVerifier
from services.notifications.commitments_client import NAME, CommitmentsClient
from services.notifications.config import NotificationsSettings
from shared.auth import Role
from shared.clock import FixedClock
from shared.problems import ServiceUnavailable, Unauthorized
from shared.service_client import CallPolicy, ServiceClient
from tests.responses import ok
from tests.services.notifications.in_process_api import client, notifications_api
from tests.services.notifications.served_commitments import Commitments


class WhoamiCounter:
    """An httpx event hook counting the `whoami` calls, which can hold them until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.open = asyncio.Event()
        self.open.set()

    async def __call__(self, request: httpx.Request) -> None:
        if request.url.path == "/v1/auth/whoami":
            self.calls += 1
            await self.open.wait()


@contextlib.asynccontextmanager
async def counted_client(
    url: str, counter: WhoamiCounter, policy: CallPolicy | None = None
) -> AsyncIterator[CommitmentsClient]:
    """The notifications service's client of the commitments service, each request it sends counted."""
    client = CommitmentsClient(ServiceClient(url, NAME, policy or CallPolicy(read_timeout_seconds=30)), "")
    client.http.event_hooks["request"].append(counter)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def counted(commitments: Commitments) -> AsyncIterator[tuple[KeyVerifier, WhoamiCounter]]:
    counter = WhoamiCounter()
    async with counted_client(commitments.url, counter) as http:
        yield KeyVerifier(http, ttl_seconds=3600.0, refusal_ttl_seconds=3600.0), counter


async def test_500_concurrent_checks_of_one_key_ask_once(
    counted: tuple[KeyVerifier, WhoamiCounter], commitments: Commitments
) -> None:
    verifier, counter = counted
    key_id, secret = await commitments.make_key(Role.CITY)
    principals = await asyncio.gather(*(verifier.verify(secret) for _ in range(500)))
    assert {principal.key_id for principal in principals} == {uuid.UUID(key_id)}
    assert {principal.role for principal in principals} == {Role.CITY}
    assert counter.calls == 1


async def test_a_bad_key_asks_once_then_is_refused_from_the_cache(
    counted: tuple[KeyVerifier, WhoamiCounter],
) -> None:
    verifier, counter = counted
    outcomes = await asyncio.gather(
        *(verifier.verify("eng_not-a-key") for _ in range(500)), return_exceptions=True
    )
    assert all(isinstance(outcome, Unauthorized) for outcome in outcomes)
    assert counter.calls == 1
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await verifier.verify("eng_not-a-key")
    assert counter.calls == 1  # the refusal came from the cache


async def test_refusals_are_kept_no_longer_than_their_setting(commitments: Commitments) -> None:
    counter = WhoamiCounter()
    async with counted_client(commitments.url, counter) as http:
        verifier = KeyVerifier(http, ttl_seconds=3600.0, refusal_ttl_seconds=0.0)
        for _ in range(2):
            with pytest.raises(Unauthorized):
                await verifier.verify("eng_not-a-key")
    assert counter.calls == 2


async def test_an_unreachable_service_is_not_remembered() -> None:
    counter = WhoamiCounter()
    # One attempt per call (no retry), so that the requests counted are the checks made; the retries are
    # tested in test_commitments_client.py.
    async with counted_client(
        "http://127.0.0.1:1", counter, CallPolicy(connect_timeout_seconds=5, attempts=1)
    ) as http:
        verifier = KeyVerifier(http, ttl_seconds=3600.0, refusal_ttl_seconds=3600.0)
        outcomes = await asyncio.gather(
            *(verifier.verify("eng_some-key") for _ in range(50)), return_exceptions=True
        )
        assert all(isinstance(outcome, ServiceUnavailable) for outcome in outcomes)
        assert counter.calls == 1  # one attempt for the burst…
        with pytest.raises(ServiceUnavailable):
            await verifier.verify("eng_some-key")
        assert counter.calls == 2  # …and the next request tries again


async def test_a_revocation_evicts_and_is_not_undone_by_an_answer_in_flight(
    counted: tuple[KeyVerifier, WhoamiCounter], commitments: Commitments
) -> None:
    verifier, counter = counted
    key_id, secret = await commitments.make_key(Role.READER)
    await verifier.verify(secret)
    verifier.forget_key(uuid.UUID(key_id))
    counter.open.clear()  # the next whoami waits at the door
    asking = asyncio.ensure_future(verifier.verify(secret))
    while counter.calls < 2:  # noqa: ASYNC110 - the fake server counts requests; polled until the second arrives
        await asyncio.sleep(0.01)
    verifier.forget_key(uuid.UUID(key_id))  # the revocation event arrives meanwhile
    counter.open.set()
    await asking
    await verifier.verify(secret)
    assert counter.calls == 3  # the answer given before the revocation was not kept


async def test_the_api_under_a_burst_with_one_key_asks_once(
    notifications_settings: NotificationsSettings, commitments: Commitments
) -> None:
    # Answers kept longer than a burst may last on a loaded machine, and a call to the commitments service given
    # the time to answer there (a timed-out call retried is a second request): the test is about single flight,
    # not expiry nor retries.
    settings = notifications_settings.model_copy(
        update={
            "max_in_flight_requests": 1000,
            "database_pool_timeout_seconds": 30.0,
            "principal_cache_seconds": 600.0,
            "principal_refusal_cache_seconds": 600.0,
            "commitments_connect_timeout_seconds": 60.0,
            "commitments_timeout_seconds": 60.0,
            "commitments_pool_timeout_seconds": 60.0,
        }
    )
    _, secret = await commitments.make_key(Role.CITY)
    async with notifications_api(settings, FixedClock()) as app:
        counter = WhoamiCounter()
        app.state.commitments.http.event_hooks["request"].append(counter)
        city = client(app, secret)
        responses = await asyncio.gather(*(city.get("/v1/deliveries") for _ in range(100)))
        assert {response.status_code for response in responses} == {200}
        assert counter.calls == 1
        stranger = client(app, "eng_not-a-key")
        refused = await asyncio.gather(*(stranger.get("/v1/deliveries") for _ in range(100)))
        assert {response.status_code for response in refused} == {401}
        assert counter.calls == 2
        ok(await city.get("/v1/deliveries"))
