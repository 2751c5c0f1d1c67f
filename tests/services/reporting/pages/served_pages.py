"""The reporting service over the scripted history (../history.py) for the page's tests: partners A and B made in
the real commitments service (keys checked by it), the history published and projected, plus one deadline to
come (i7's delivery, Friday 26 June), so that every part of the page has something to show."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import nats
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from services.reporting.app import create_app
from services.reporting.config import ReportingSettings
from shared.auth import Role
from shared.bus import StreamSpec
from shared.events import commitments as ev
from tests.responses import ok
from tests.services.notifications.served_commitments import Commitments
from tests.services.reporting.conftest import reporting_settings
from tests.services.reporting.history import Story, clock, scorecard_story
from tests.services.reporting.running_projector import project
from tests.services.reporting.scripted_events import publish_script

NewDatabase = Callable[..., Awaitable[str]]
PAGE = "/tableau-de-bord/"
SIGN_IN = "/tableau-de-bord/connexion"
SIGN_OUT = "/tableau-de-bord/deconnexion"


@dataclass
class Served:
    settings: ReportingSettings
    story: Story
    keys: dict[str, tuple[str, str]]  # who -> (key id, secret)

    def app(self, **overrides: Any) -> FastAPI:
        return create_app(self.settings.model_copy(update=overrides), clock())


@contextlib.asynccontextmanager
async def history(
    commitments: Commitments, new_database: NewDatabase, nats_url: str, streams: tuple[StreamSpec, StreamSpec]
) -> AsyncIterator[Served]:
    async with commitments.client(commitments.admin_secret) as admin:
        a = ok(await admin.post("/v1/partners", json={"name": "Bailleur A", "kind": "bailleur_social"}))["id"]
        b = ok(
            await admin.post(
                "/v1/partners", json={"name": "Territoire B", "kind": "etablissement_public_territorial"}
            )
        )["id"]
    story = scorecard_story(uuid.UUID(a), uuid.UUID(b), with_partners=False)
    story.ids["i7_delivery"] = uuid.uuid4()
    story.script.emit(
        ev.DeadlineSet(
            deadline_id=story.ids["i7_delivery"],
            item_id=story.ids["i7"],
            kind="delivery",
            due_on=date(2026, 6, 26),
            previous_due_on=None,
            deadline_version=1,
        ),
        date(2026, 6, 10),
    )
    keys = {
        "admin": ("", commitments.admin_secret),
        "reader": await commitments.make_key(Role.READER),
        "a": await commitments.make_key(Role.PARTNER, a),
        "b": await commitments.make_key(Role.PARTNER, b),
        "service": ("", commitments.service_secret),
    }
    settings = reporting_settings(await new_database(), nats_url, streams, commitments_url=commitments.url)
    client = await nats.connect(nats_url)
    try:
        await publish_script(client, streams, story.script)
        await project(settings, client, streams)
    finally:
        await client.drain()
    yield Served(settings, story, keys)


@contextlib.asynccontextmanager
async def browsing(
    app: FastAPI, base_url: str = "http://test", client_address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app as a browser is one: it keeps cookies and does not follow redirects."""
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=(client_address, 50000))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    """Through the form, as a person does: the form, then its POST with the form's token."""
    form = await client.get(SIGN_IN)
    assert form.status_code == 200, form.text
    return await client.post(SIGN_IN, data={"csrf": csrf_of(form.text), "cle": secret})
