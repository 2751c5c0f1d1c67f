"""The reports over HTTP, on a scripted history whose figures are worked out by hand (history.py), with keys
checked by the real commitments service: admin and reader keys see everything; a partner key sees its own
organisation's figures and items only, and the others do not exist for it (404)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import nats
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from services.reporting.app import create_app
from shared.auth import Role
from shared.bus import StreamSpec
from tests.responses import ok
from tests.services.notifications.served_commitments import Commitments
from tests.services.reporting.conftest import reporting_settings
from tests.services.reporting.history import EXPECTED_A, PERIOD, Story, clock, scorecard_story
from tests.services.reporting.running_projector import project
from tests.services.reporting.scripted_events import publish_script

NewDatabase = Callable[..., Awaitable[str]]


@dataclass
class Reporting:
    app: FastAPI
    story: Story
    keys: dict[str, str]

    def client(self, who: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://test",
            headers={"Authorization": f"Bearer {self.keys[who]}"},
        )


@contextlib.asynccontextmanager
async def reporting(
    commitments: Commitments, new_database: NewDatabase, nats_url: str, streams: tuple[StreamSpec, StreamSpec]
) -> AsyncIterator[Reporting]:
    """Partners A and B made in the commitments service (their partner.created events reach the stream through
    its relay), the rest of the story published, projected, and the reports API over it."""
    async with commitments.client(commitments.admin_secret) as admin:
        a = ok(await admin.post("/v1/partners", json={"name": "Bailleur A", "kind": "bailleur_social"}))["id"]
        b = ok(
            await admin.post(
                "/v1/partners", json={"name": "Territoire B", "kind": "etablissement_public_territorial"}
            )
        )["id"]
    story = scorecard_story(uuid.UUID(a), uuid.UUID(b), with_partners=False)
    keys = {
        "admin": commitments.admin_secret,
        "reader": (await commitments.make_key(Role.READER))[1],
        "a": (await commitments.make_key(Role.PARTNER, a))[1],
        "b": (await commitments.make_key(Role.PARTNER, b))[1],
    }
    settings = reporting_settings(await new_database(), nats_url, streams, commitments_url=commitments.url)
    client = await nats.connect(nats_url)
    try:
        await publish_script(client, streams, story.script)
        await project(settings, client, streams)
    finally:
        await client.drain()
    app = create_app(settings, clock())
    async with LifespanManager(app):
        yield Reporting(app, story, keys)


def period() -> dict[str, str]:
    return {"from": PERIOD[0], "to": PERIOD[1]}


def scorecard_figures(body: dict[str, Any]) -> dict[str, Any]:
    return {key: body[key] for key in EXPECTED_A}


async def test_scorecard_plan_deadlines_and_timeline_figures(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with reporting(commitments, new_reporting_database, nats_url, streams) as served:
        ids = served.story.ids
        async with served.client("admin") as admin:
            card = ok(await admin.get(f"/v1/reports/partners/{ids['a']}/scorecard", params=period()))
            assert card["partner_name"] == "Bailleur A"
            assert card["period"] == {"start": PERIOD[0], "end": PERIOD[1]} and card["as_of"] == "2026-06-15"
            assert scorecard_figures(card) == EXPECTED_A

            # B over the same period: i7 sent 2 March, accepted 3 March (1 working day, within its date); c1 is a
            # commitment of the city, in no scorecard; i8 is late (1 June), waiting on B; r5 reached B.
            card_b = ok(await admin.get(f"/v1/reports/partners/{ids['b']}/scorecard", params=period()))
            assert (card_b["requested"], card_b["answered"], card_b["answered_within_deadline_percent"]) == (
                2,
                1,
                100.0,
            )
            assert (card_b["median_response_working_days"], card_b["p90_response_working_days"]) == (1.0, 1)
            assert card_b["overdue_now"] == {"total": 1, "waiting_on_partner": 1, "waiting_on_city": 0}
            assert (card_b["reminders_sent"], card_b["reminders_unreached"], card_b["delivered"]) == (1, 0, 0)

            cards = ok(await admin.get("/v1/reports/partners/scorecards", params=period()))
            assert [c["partner_name"] for c in cards] == ["Bailleur A", "Territoire B"]

            progress = ok(await admin.get(f"/v1/reports/plans/{ids['plan']}/progress"))
            first, second = progress["axes"]
            # Axis I: i1 verified (100), i2 declined (not counted in the mean), i3 at 40, i4, i5, i7, i8 at 0,
            # c1 done (100): (100 + 40 + 100) / 7 = 34.3. Axis II: i6 delivered, at 0.
            assert (first["items"], first["progress_percent"], first["late"]) == (8, 34.3, 4)
            assert {row["status"]: row["items"] for row in first["by_status"]} == {
                "draft": 1,
                "sent": 1,
                "accepted": 1,
                "declined": 1,
                "no_answer": 1,
                "in_progress": 1,
                "verified": 1,
                "done": 1,
            }
            assert (second["items"], second["progress_percent"], second["late"]) == (1, 0.0, 1)
            assert progress["items"] == 9 and progress["late"] == 5
            late = {
                row["title"]: (row["waiting_on"], row["due_on"], row["working_days_late"])
                for row in progress["late_items"]
            }
            assert late == {
                "Demande i4": ("partner", "2026-02-13", 81),
                "Demande i3": ("partner", "2026-06-01", 10),
                "Demande i8": ("partner", "2026-06-01", 10),
                "Demande i5": ("city", "2026-05-29", 11),
                "Demande i6": ("city", "2026-05-29", 11),
            }

            deadlines = ok(await admin.get("/v1/reports/deadlines", params={"within_days": 30}))
            # The oldest first; on one day, by title.
            assert [(d["item_title"], d["due_on"]) for d in deadlines["overdue"]] == [
                ("Demande i4", "2026-02-13"),
                ("Demande i5", "2026-05-29"),
                ("Demande i6", "2026-05-29"),
                ("Demande i3", "2026-06-01"),
                ("Demande i8", "2026-06-01"),
            ]
            assert deadlines["upcoming"] == []
            slipped = ok(await admin.get("/v1/reports/deadlines/slippage"))
            assert [
                (d["item_title"], d["original_due_on"], d["due_on"], d["slippage_working_days"])
                for d in slipped["deadlines"]
            ] == [("Demande i3", "2026-04-30", "2026-05-15", 8)]

            timeline = ok(await admin.get(f"/v1/reports/items/{ids['i1']}/timeline"))
            assert [entry["type"] for entry in timeline["entries"]] == [
                "item.created",
                "deadline.set",
                "item.status_changed",
                "item.status_changed",
                "action_link.used",
                "item.status_changed",
                "item.status_changed",
                "item.status_changed",
            ]
            assert timeline["status"] == "verified"


async def test_a_partner_sees_only_its_own_organisation(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with reporting(commitments, new_reporting_database, nats_url, streams) as served:
        ids = served.story.ids
        async with served.client("a") as a, served.client("b") as b, served.client("reader") as reader:
            own = ok(await a.get(f"/v1/reports/partners/{ids['a']}/scorecard", params=period()))
            assert scorecard_figures(own) == EXPECTED_A
            # Another partner's figures do not exist for it, with a French problem.
            other = await a.get(f"/v1/reports/partners/{ids['b']}/scorecard", params=period())
            assert other.status_code == 404
            assert other.headers["content-type"].startswith("application/problem+json")
            assert other.json()["detail"] == "Partenaire introuvable."
            assert (await b.get(f"/v1/reports/partners/{ids['a']}/scorecard")).status_code == 404
            assert [c["partner_id"] for c in ok(await a.get("/v1/reports/partners/scorecards"))] == [
                str(ids["a"])
            ]
            for path in ("/v1/reports/late-items", "/v1/reports/deadlines"):
                assert (await a.get(path, params={"partner_id": str(ids["b"])})).status_code == 404

            # Items: A's own, and B's i7 where A is associated; never i8 (B's alone).
            late = {row["title"] for row in ok(await a.get("/v1/reports/late-items"))}
            assert late == {"Demande i3", "Demande i4", "Demande i5", "Demande i6"}
            overdue = {d["item_title"] for d in ok(await a.get("/v1/reports/deadlines"))["overdue"]}
            assert "Demande i8" not in overdue and overdue == late
            assert (await a.get(f"/v1/reports/items/{ids['i8']}/timeline")).status_code == 404
            assert ok(await a.get(f"/v1/reports/items/{ids['i7']}/timeline"))["title"] == "Demande i7"
            progress = ok(await a.get(f"/v1/reports/plans/{ids['plan']}/progress"))
            assert progress["items"] == 7 and progress["late"] == 4  # i1–i7, not i8 nor c1
            assert "Demande i8" not in {row["title"] for row in progress["late_items"]}

            # B sees i8, not A's items.
            assert {row["title"] for row in ok(await b.get("/v1/reports/late-items"))} == {"Demande i8"}
            assert (await b.get(f"/v1/reports/items/{ids['i1']}/timeline")).status_code == 404

            # A reader sees everything.
            assert len(ok(await reader.get("/v1/reports/partners/scorecards"))) == 2
            assert len(ok(await reader.get("/v1/reports/late-items"))) == 5


async def test_errors_are_french_problems(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with reporting(commitments, new_reporting_database, nats_url, streams) as served:
        async with served.client("admin") as admin:
            empty = await admin.get(
                f"/v1/reports/partners/{served.story.ids['a']}/scorecard",
                params={"from": "2026-05-01", "to": "2026-04-01"},
            )
            assert empty.status_code == 422
            assert (
                empty.json()["detail"]
                == "Période vide : le début (2026-05-01) est après la fin (2026-04-01)."
            )
            unknown = await admin.get(f"/v1/reports/plans/{uuid.uuid4()}/progress")
            assert (unknown.status_code, unknown.json()["detail"]) == (404, "Plan introuvable.")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=served.app),
            base_url="http://test",
            headers={"Authorization": "Bearer eng_not_a_key"},
        ) as stranger:
            refused = await stranger.get("/v1/reports/late-items")
            assert refused.status_code == 401
            assert refused.json()["detail"] == "Clé d'API inconnue ou révoquée."
