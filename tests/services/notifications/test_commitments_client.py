"""The notifications service's one client of the commitments service, over real HTTP: the commitments service
under uvicorn, reached through a gateway (uvicorn too) that records every request and breaks the ones a test
asks it to — a connection dropped, a 503, an answer that comes too late or is lost after the commitments
service acted."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from services.notifications.actions.links import action_links
from services.notifications.app import create_app
from services.notifications.auth.service import KeyVerifier
from services.notifications.commitments_client import NAME, CommitmentsClient, ContextRefused
from services.notifications.config import NotificationsSettings
from shared.auth import Role
from shared.clock import FixedClock
from shared.problems import NotFound, ServiceUnavailable
from shared.service_client import CallPolicy, ServiceClient
from tests.ports import free_port
from tests.responses import ok
from tests.services.notifications.served_commitments import Commitments
from tests.services.notifications.world import World
from tests.waiting import wait_until

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


class _Broken(Exception):
    """Raised by the gateway after it started an answer: uvicorn then drops the connection."""


@dataclass
class Fault:
    """What the gateway does to the next request on `path` (its end): `break` drops the connection before
    the commitments service sees the request, `lose` after it answered; `busy` answers 503 itself (with
    `retry_after`); `slow` holds the request until the test ends."""

    path: str
    kind: str
    retry_after: str | None = None


@dataclass
class Seen:
    method: str
    path: str
    idempotency_key: str | None


@dataclass
class Gateway:
    """A plain ASGI app forwarding to the commitments service."""

    upstream: str
    faults: list[Fault] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, method: str, path_end: str) -> int:
        return sum(1 for request in self.seen if request.method == method and request.path.endswith(path_end))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name.decode("latin-1").lower() not in _HOP_BY_HOP
        }
        path = scope["path"]
        self.seen.append(Seen(scope["method"], path, headers.get("idempotency-key")))
        fault = next((fault for fault in self.faults if path.endswith(fault.path)), None)
        if fault is not None:
            self.faults.remove(fault)
        kind = fault.kind if fault else None
        if kind == "break":
            await self._start(send, 200, [(b"content-length", b"100")])
            raise _Broken
        if kind == "busy":
            problem = json.dumps(
                {
                    "type": "urn:engagements:problem:overloaded",
                    "title": "Service surchargé",
                    "status": 503,
                    "detail": "Trop de requêtes en cours.",
                    "code": "overloaded",
                }
            )
            extra = [(b"retry-after", fault.retry_after.encode())] if fault and fault.retry_after else []
            await self._answer(
                send, 503, [(b"content-type", b"application/problem+json"), *extra], problem.encode()
            )
            return
        if kind == "slow":
            await self.released.wait()
        query = scope["query_string"].decode("latin-1")
        async with httpx.AsyncClient(base_url=self.upstream, timeout=30) as upstream:
            answer = await upstream.request(
                scope["method"], path + (f"?{query}" if query else ""), headers=headers, content=body
            )
        if kind == "lose":  # the commitments service acted; its answer never reaches the caller
            await self._start(send, answer.status_code, [(b"content-length", b"100")])
            raise _Broken
        await self._answer(
            send,
            answer.status_code,
            [
                (name.encode("latin-1"), value.encode("latin-1"))
                for name, value in answer.headers.items()
                if name.lower() not in _HOP_BY_HOP
            ],
            answer.content,
        )

    @staticmethod
    async def _start(send: Any, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})

    async def _answer(self, send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        await self._start(send, status, [*headers, (b"content-length", str(len(body)).encode())])
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def gateway(commitments: Commitments) -> AsyncIterator[tuple[Gateway, str]]:
    """The gateway under uvicorn on a free port, and its URL."""
    app = Gateway(commitments.url)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or task.done(), "the gateway to start", timeout=30)
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        app.released.set()
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def client(url: str, service_key: str, **policy: Any) -> AsyncIterator[CommitmentsClient]:
    commitments = CommitmentsClient(ServiceClient(url, NAME, CallPolicy(**policy)), service_key)
    try:
        yield commitments
    finally:
        await commitments.aclose()


def _id(world: World, name: str) -> uuid.UUID:
    return uuid.UUID(world.ids[name])


async def test_an_idempotent_get_is_retried_after_a_dropped_connection_and_a_503(
    gateway: tuple[Gateway, str], commitments: Commitments, world: World
) -> None:
    proxy, url = gateway
    proxy.faults += [Fault("/reminder-context", "break"), Fault("/reminder-context", "busy", retry_after="0")]
    async with client(url, commitments.service_secret) as commitments_client:
        context = await commitments_client.reminder_context(
            _id(world, "item"), _id(world, "item_deadline"), ["liaison", "deputy"]
        )
    assert context is not None
    assert {recipient.email for recipient in context.recipients} == {
        world.emails["liaison"],
        world.emails["deputy"],
    }
    assert proxy.count("GET", "/reminder-context") == 3 and proxy.faults == []


async def test_a_service_still_unavailable_after_the_retries_is_a_french_503(
    gateway: tuple[Gateway, str], commitments: Commitments, world: World
) -> None:
    proxy, url = gateway
    proxy.faults += [Fault("/reminder-context", "busy") for _ in range(3)]
    async with client(url, commitments.service_secret, attempts=3) as commitments_client:
        with pytest.raises(ServiceUnavailable) as raised:
            await commitments_client.reminder_context(_id(world, "item"), None, ["liaison"])
    assert raised.value.status == 503
    assert raised.value.detail.startswith(
        "Le service des engagements est momentanément indisponible (HTTP 503)"
    )
    assert proxy.count("GET", "/reminder-context") == 3


async def test_a_retry_after_longer_than_allowed_is_not_waited_for(
    gateway: tuple[Gateway, str], commitments: Commitments, world: World
) -> None:
    proxy, url = gateway
    proxy.faults.append(Fault("/reminder-context", "busy", retry_after="3600"))
    async with client(url, commitments.service_secret, retry_after_max_seconds=5.0) as commitments_client:
        with pytest.raises(ServiceUnavailable):
            await commitments_client.reminder_context(_id(world, "item"), None, ["liaison"])
    assert proxy.count("GET", "/reminder-context") == 1


async def test_a_refusal_is_not_retried(
    gateway: tuple[Gateway, str], commitments: Commitments, world: World
) -> None:
    proxy, url = gateway
    async with client(url, "eng_not-a-key") as commitments_client:
        with pytest.raises(ContextRefused) as refused:
            await commitments_client.reminder_context(_id(world, "item"), None, ["liaison"])
        assert refused.value.status_code == 401
        assert await commitments_client.whoami("eng_not-a-key") is None
    async with client(url, commitments.service_secret) as commitments_client:
        with pytest.raises(NotFound) as missing:
            await commitments_client.check_contact_visible(uuid.uuid4(), commitments.admin_secret)
    assert missing.value.detail == "Contact introuvable."  # the commitments service's own words
    # Each question asked once: 401 and 404 are answers, not failures.
    assert [(request.method, request.path.split("/")[2]) for request in proxy.seen] == [
        ("GET", "items"),
        ("GET", "auth"),
        ("GET", "contacts"),
    ]


async def test_a_post_without_an_idempotency_key_is_never_sent_twice(
    gateway: tuple[Gateway, str], commitments: Commitments, world: World
) -> None:
    proxy, url = gateway
    proxy.faults.append(Fault("/journal", "break"))
    service = ServiceClient(url, NAME)
    try:
        with pytest.raises(ServiceUnavailable) as raised:
            await service.call(
                "POST",
                f"/v1/items/{world.ids['item']}/journal",
                json={"kind": "note", "text": "Relance téléphonique."},
                headers={"Authorization": f"Bearer {commitments.admin_secret}"},
            )
    finally:
        await service.aclose()
    assert "injoignable" in raised.value.detail
    assert proxy.count("POST", "/journal") == 1


async def test_a_slow_answer_is_a_french_503_not_a_long_wait(
    gateway: tuple[Gateway, str], commitments: Commitments, notifications_settings: NotificationsSettings
) -> None:
    proxy, url = gateway
    _, secret = await commitments.make_key(Role.CITY)
    proxy.faults.append(Fault("/whoami", "slow"))
    # The slow answer never comes (held until released): the timeout only needs to be longer than a normal
    # answer takes on a busy machine, which the last request below needs.
    settings = notifications_settings.model_copy(
        update={"commitments_url": url, "commitments_timeout_seconds": 3.0}
    )
    app = create_app(settings, FixedClock())
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as notifications,
    ):
        answer = await notifications.get("/v1/deliveries", headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == (
            "Le service des engagements n'a pas répondu à temps ; réessayez dans un instant."
        )
        assert (
            proxy.count("GET", "/whoami") == 1
        )  # a read timeout is not retried: the service is busy with it
        proxy.released.set()
        ok(await notifications.get("/v1/deliveries", headers={"Authorization": f"Bearer {secret}"}))


async def test_concurrent_checks_of_one_key_make_one_check_even_when_it_is_retried(
    gateway: tuple[Gateway, str], commitments: Commitments
) -> None:
    proxy, url = gateway
    key_id, secret = await commitments.make_key(Role.CITY)
    proxy.faults.append(Fault("/whoami", "busy", retry_after="0"))
    async with client(url, "") as commitments_client:
        verifier = KeyVerifier(commitments_client, ttl_seconds=3600.0)
        principals = await asyncio.gather(*(verifier.verify(secret) for _ in range(200)))
    assert {principal.key_id for principal in principals} == {uuid.UUID(key_id)}
    assert proxy.count("GET", "/whoami") == 2  # one check for the 200 callers, sent twice (after the 503)


@pytest.fixture
async def notifications_behind_gateway(
    gateway: tuple[Gateway, str], notifications_settings: NotificationsSettings
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(
        notifications_settings.model_copy(update={"commitments_url": gateway[1]}),
        FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
    )
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://notifications.test"
        ) as browser,
    ):
        yield app, browser


async def test_an_action_whose_answer_was_lost_is_sent_again_with_its_key_and_acts_once(
    gateway: tuple[Gateway, str],
    notifications_behind_gateway: tuple[FastAPI, httpx.AsyncClient],
    commitments: Commitments,
    world: World,
    notifications_settings: NotificationsSettings,
) -> None:
    proxy, _ = gateway
    _, browser = notifications_behind_gateway
    link = action_links(
        notifications_settings,
        _id(world, "item"),
        _id(world, "liaison"),
        _id(world, "item_deadline"),
        datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )["acknowledge"]
    proxy.faults.append(Fault("/transitions", "lose"))
    page = await browser.post(
        link.removeprefix(notifications_settings.public_base_url), headers=FORM, content=b""
    )
    assert page.status_code == 200, page.text
    assert "Accusé de réception enregistré" in html.unescape(page.text)
    posts = [request for request in proxy.seen if request.method == "POST"]
    assert [request.path.rsplit("/", 1)[-1] for request in posts] == ["transitions", "transitions"]
    assert posts[0].idempotency_key is not None and posts[0].idempotency_key == posts[1].idempotency_key
    async with commitments.client(commitments.admin_secret) as admin:
        history = ok(await admin.get(f"/v1/items/{world.ids['item']}/history"))
    assert [e["changes"]["status"][1] for e in history if e["action"] == "transition"] == [
        "sent",
        "acknowledged",
    ]
