"""The whole reminder flow running for a test: the commitments service over HTTP (relay in process), the
deadline scanner on the test's clock, NATS JetStream, the notifications worker and a real SMTP server; a seeded
request to Hauts-de-Seine Habitat sent on Monday 2 March 2026, its answer due Thursday 5 March."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from services.commitments.outbox.models import OutboxMessage
from services.commitments.reminders.scanner import DeadlineScanner
from services.notifications.config import NotificationsSettings
from services.notifications.consumer import worker
from services.notifications.deliveries.models import Delivery, DeliveryStatus
from shared.bus import StreamSpec
from shared.db import create_engine
from tests.responses import ok
from tests.services.commitments.factories import create_plan_axis_objective
from tests.services.notifications.served_commitments import Commitments
from tests.smtp_sink import ReceivedMail, SinkHandler
from tests.waiting import wait_until

EMAILS = {
    "liaison": "claire.martin@hsh.example",
    "deputy": "paul.petit@hsh.example",
    "hierarchy": "direction@hsh.example",
    "owner": "agent@sceaux.example",
    "elected": "adjointe@sceaux.example",
}
PARTNER = {EMAILS["liaison"], EMAILS["deputy"]}
LATE = PARTNER | {EMAILS["hierarchy"], EMAILS["owner"]}
VERY_LATE = LATE | {EMAILS["elected"]}


@dataclass
class Flow:
    """Everything running, and what the SMTP server received, day by day (Paris dates)."""

    commitments: Commitments
    settings: NotificationsSettings
    handler: SinkHandler
    nats: Any
    stream: StreamSpec
    scanner: DeadlineScanner
    admin: httpx.AsyncClient
    ids: dict[str, str] = field(default_factory=dict)
    by_day: dict[date, list[ReceivedMail]] = field(default_factory=dict)
    _seen: int = 0

    async def settle(self) -> None:
        """Wait until every event is published, consumed and acknowledged, and every delivery has left."""
        app = self.commitments.app
        engine = create_engine(self.settings.database_url)
        js = self.nats.jetstream()

        async def published() -> bool:
            async with app.state.sessionmaker() as session:
                unpublished = (
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.published_at.is_(None))
                )
                return await session.scalar(unpublished) == 0

        async def consumed() -> bool:
            info = await js.consumer_info(self.stream.name, self.settings.consumer_durable)
            return info.num_pending == 0 and info.num_ack_pending == 0

        async def sent() -> bool:
            async with engine.connect() as connection:
                waiting = (
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status == DeliveryStatus.PENDING.value)
                )
                return await connection.scalar(waiting) == 0

        try:
            for condition, what in (
                (published, "the outbox published"),
                (consumed, "the events consumed"),
                (sent, "the deliveries sent"),
            ):
                await wait_until(condition, what)
        finally:
            await engine.dispose()

    async def run_until(self, end: datetime) -> None:
        """Move the clock hour by hour to `end`, the scanner ticking at each; file what arrives by day."""
        clock = self.commitments.clock
        while clock.now() + timedelta(hours=1) <= end:
            clock.advance(timedelta(hours=1))
            if (await self.scanner.tick()).fired:
                await self.settle()
                received = self.handler.all()
                day = clock.now().date()
                self.by_day.setdefault(day, []).extend(received[self._seen :])
                self._seen = len(received)

    def recipients(self) -> dict[date, set[str]]:
        return {day: {mail.to for mail in mails} for day, mails in self.by_day.items() if mails}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@contextlib.asynccontextmanager
async def running(
    commitments: Commitments,
    settings: NotificationsSettings,
    sink: tuple[Any, SinkHandler],
    nats_client: Any,
    stream: StreamSpec,
) -> AsyncIterator[Flow]:
    commitments.clock.instant = utc("2026-03-02T06:00")  # Monday 2 March, 07:00 in Paris
    admin = commitments.client(commitments.admin_secret)
    flow = Flow(
        commitments,
        settings,
        sink[1],
        nats_client,
        stream,
        DeadlineScanner(commitments.app.state.sessionmaker, commitments.clock),
        admin,
    )
    await seed(flow)
    stop = asyncio.Event()
    async with worker(settings, commitments.clock) as notifications:
        task = asyncio.create_task(notifications.run(stop))
        try:
            yield flow
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)
            await admin.aclose()


async def seed(flow: Flow) -> None:
    """Hauts-de-Seine Habitat (liaison Mme Martin, a deputy, a hierarchy contact), the city (the item's owner,
    the plan's elected official), and a request sent today whose answer is due Thursday 5 March."""
    admin, ids = flow.admin, flow.ids
    for key, name, kind in (
        ("hsh", "Hauts-de-Seine Habitat", "bailleur_social"),
        ("city", "Ville de Sceaux", "collectivite"),
    ):
        ids[key] = ok(await admin.post("/v1/partners", json={"name": name, "kind": kind}))["id"]
    for key, partner, fields in (
        (
            "liaison",
            "hsh",
            {
                "civility": "Madame",
                "first_name": "Claire",
                "last_name": "Martin",
                "title": "Directrice territoriale",
            },
        ),
        ("deputy", "hsh", {"civility": "Monsieur", "last_name": "Petit", "role": "deputy"}),
        ("hierarchy", "hsh", {"last_name": "Direction générale", "role": "hierarchy"}),
        ("owner", "city", {"last_name": "Agent", "role": "staff"}),
        ("elected", "city", {"civility": "Madame", "last_name": "Adjointe", "role": "elected"}),
    ):
        ids[key] = ok(
            await admin.post(f"/v1/partners/{ids[partner]}/contacts", json={"email": EMAILS[key], **fields})
        )["id"]
    async with flow.commitments.app.state.sessionmaker() as session, session.begin():
        plan, _, objective = await create_plan_axis_objective(session, flow.commitments.clock)
    ok(await admin.patch(f"/v1/plans/{plan.id}", json={"elected_contact_id": ids["elected"]}))
    item = ok(
        await admin.post(
            "/v1/items",
            json={
                "objective_id": str(objective.id),
                "kind": "request",
                "title": "Rénovation du centre commercial",
                "plan_text": "La Ville demande à Hauts-de-Seine Habitat de présenter un projet de rénovation du centre "
                "commercial des Blagis.",
                "lead_partner_id": ids["hsh"],
                "owner_contact_id": ids["owner"],
            },
        )
    )
    ids["item"] = item["id"]
    ok(
        await admin.post(
            f"/v1/items/{item['id']}/transitions", json={"to": "sent", "letter_reference": "SCX/2026-014"}
        )
    )
    ids["deadline"] = ok(
        await admin.post(
            f"/v1/items/{item['id']}/deadlines", json={"kind": "response", "due_on": "2026-03-05"}
        )
    )["id"]
