"""The reporting API served over a scripted history (history.py, plus what a test adds to it), with keys
checked by the real commitments service: admin, city and reader keys, and one key for each of partners A and
B."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date

import httpx
import nats
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from services.reporting.app import create_app
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


@dataclass
class Served:
    app: FastAPI
    story: Story
    keys: dict[str, str]

    def client(self, who: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://test", headers=headers
        )


def add_request(
    story: Story,
    key: str,
    lead: uuid.UUID,
    deadlines: dict[str, tuple[str, date]],
    sent_on: date | None = None,
    owner: uuid.UUID | None = None,
) -> None:
    """One more request of the story's plan, its deadlines ({key: (kind, due date)}) and its city owner."""
    s, ids = story.script, story.ids
    ids[key] = uuid.uuid4()
    created = date(2026, 6, 1)
    s.emit(
        ev.ItemCreated(
            item_id=ids[key],
            plan_id=ids["plan"],
            objective_id=ids["objective"],
            kind="request",
            title=f"Demande {key}",
            status="draft",
            lead_partner_id=lead,
            associated_partner_ids=[],
            tags=[],
            needs_review=False,
            owner_contact_id=owner,
        ),
        created,
    )
    for deadline_key, (kind, due) in deadlines.items():
        ids[deadline_key] = uuid.uuid4()
        s.emit(
            ev.DeadlineSet(
                deadline_id=ids[deadline_key],
                item_id=ids[key],
                kind=kind,  # type: ignore[arg-type]
                due_on=due,
                previous_due_on=None,
                deadline_version=1,
            ),
            created,
        )
    if sent_on is not None:
        s.emit(
            ev.ItemStatusChanged(item_id=ids[key], from_status="draft", to_status="sent", on=sent_on), sent_on
        )


@contextlib.asynccontextmanager
async def served_reporting(
    commitments: Commitments,
    new_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
    extend: Callable[[Story], None] | None = None,
) -> AsyncIterator[Served]:
    """Partners A and B made in the commitments service, the story (and `extend`'s events) published and
    projected, and the reporting API over it, its clock at Monday 15 June 2026."""
    async with commitments.client(commitments.admin_secret) as admin:
        a = ok(await admin.post("/v1/partners", json={"name": "Bailleur A", "kind": "bailleur_social"}))["id"]
        b = ok(
            await admin.post(
                "/v1/partners", json={"name": "Territoire B", "kind": "etablissement_public_territorial"}
            )
        )["id"]
    story = scorecard_story(uuid.UUID(a), uuid.UUID(b), with_partners=False)
    if extend is not None:
        extend(story)
    keys = {
        "admin": commitments.admin_secret,
        "city": (await commitments.make_key(Role.CITY))[1],
        "reader": (await commitments.make_key(Role.READER))[1],
        "a": (await commitments.make_key(Role.PARTNER, a))[1],
        "b": (await commitments.make_key(Role.PARTNER, b))[1],
    }
    settings = reporting_settings(
        await new_database(),
        nats_url,
        streams,
        commitments_url=commitments.url,
        reporting_public_url="https://rapports.example.test",
        feed_item_url="https://intranet.example.test/elements/{item_id}",
    )
    client = await nats.connect(nats_url)
    try:
        await publish_script(client, streams, story.script)
        await project(settings, client, streams)
    finally:
        await client.drain()
    app = create_app(settings, clock())
    async with LifespanManager(app):
        yield Served(app, story, keys)
