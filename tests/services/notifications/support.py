"""Helpers of the notifications tests: a real SMTP server (aiosmtpd), the commitments service served over
HTTP (uvicorn on a free port), a seeded world, reminder events published straight into the stream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from fastapi import FastAPI
from nats.js import JetStreamContext
from sqlalchemy import delete

from services.commitments.app import create_app as create_commitments_app
from services.commitments.auth.service import create_key
from services.commitments.config import CommitmentsSettings
from services.commitments.database import outbox_aware_sessionmaker
from services.commitments.models import Base as CommitmentsBase
from shared.auth import SYSTEM, Role
from shared.bus import StreamSpec, publish_event
from shared.clock import FixedClock
from shared.db import create_engine
from shared.events import Actor, EventEnvelope
from shared.events.commitments import DeadlineApproaching, DeadlineDue, DeadlineEscalated, DeadlineOverdue
from tests.services.commitments.support import create_plan_axis_objective

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]


@dataclass
class SinkHandler:
    """Records every accepted message. `temporary_failures[address] = n`: the first n attempts to that address
    answer 451; `rejected`: addresses answered 550; `delay_seconds`: time taken per message (for the kill test)."""

    temporary_failures: dict[str, int] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)
    delay_seconds: float = 0.0
    received: list[ReceivedMail] = field(default_factory=list)
    # When each message of `received` was accepted (time.monotonic()).
    received_at: list[float] = field(default_factory=list)
    refusals: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        with self.lock:
            if address in self.rejected:
                self.refusals.append((address, 550))
                return f"550 5.1.1 <{address}>: boîte inconnue"
            if self.temporary_failures.get(address, 0) > 0:
                self.temporary_failures[address] -= 1
                self.refusals.append((address, 451))
                return "451 4.3.0 Réessayez plus tard"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        mail = ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos),
                            message_from_bytes(envelope.original_content or b"", policy=policy.default))
        with self.lock:
            self.received.append(mail)
            self.received_at.append(time.monotonic())
        return "250 Message accepted for delivery"

    def mails_to(self, address: str) -> list[ReceivedMail]:
        with self.lock:
            return [mail for mail in self.received if address in mail.rcpt_tos]

    def all(self) -> list[ReceivedMail]:
        with self.lock:
            return list(self.received)


@contextlib.contextmanager
def smtp_sink(handler: SinkHandler | None = None):  # type: ignore[no-untyped-def]
    """A real SMTP server on a free port, in its own thread."""
    handler = handler or SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


async def wait_until(condition: Callable[[], Awaitable[bool]] | Callable[[], bool], what: str,
                     timeout: float = 60.0) -> None:
    """Poll `condition` until it holds; fail (with `what`) if it never does. A bound, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.05)


@dataclass
class Commitments:
    """The commitments service served over real HTTP, with an admin and a service key."""

    url: str
    app: FastAPI
    clock: FixedClock
    admin_secret: str
    service_secret: str
    stream: StreamSpec

    def client(self, secret: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    async def make_key(self, role: Role, partner_id: uuid.UUID | str | None = None) -> tuple[str, str]:
        """A key's (id, secret)."""
        async with self.app.state.sessionmaker() as session, session.begin():
            key, secret = await create_key(session, SYSTEM, self.clock, name=f"test {role}", role=role,
                                           partner_id=uuid.UUID(str(partner_id)) if partner_id else None)
        return str(key.id), secret


@contextlib.asynccontextmanager
async def commitments_process(database_url: str, nats_url: str, stream: StreamSpec, data_dir: Path,
                              empty_tables_after: bool = False) -> AsyncIterator[Commitments]:
    """The commitments service as deployed, `python -m services.commitments serve` in a process of its own, with
    an admin and a service key made in its database first. What it yields serves seed_world as serve_commitments'
    does (the plan is written through a sessionmaker of this process on the same database)."""
    engine = create_engine(database_url)
    sessionmaker = outbox_aware_sessionmaker(engine, lambda: None)  # nothing this side writes is published
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday, as in the other tests
    async with sessionmaker() as session, session.begin():
        _, admin = await create_key(session, SYSTEM, clock, name="admin", role=Role.ADMIN, partner_id=None)
        _, service = await create_key(session, SYSTEM, clock, name="notifications", role=Role.SERVICE,
                                      partner_id=None)
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url, "NATS_URL": nats_url, "EVENTS_STREAM": stream.name,
                   "EVENTS_SUBJECT_PREFIX": stream.subject_prefix, "DATA_DIR": str(data_dir), "LOG_JSON": "false",
                   "LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.commitments", "serve", "--host",
                                                   "127.0.0.1", "--port", str(port), env=environment, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            async def answers() -> bool:
                assert process.returncode is None, f"the commitments service exited with {process.returncode}"
                with contextlib.suppress(httpx.TransportError):
                    return (await client.get("/healthz")).status_code == 200
                return False

            await wait_until(answers, "the commitments service to answer", timeout=60)
        app = SimpleNamespace(state=SimpleNamespace(sessionmaker=sessionmaker))  # what seed_world uses of it
        yield Commitments(url, app, clock, admin, service, stream)  # type: ignore[arg-type]
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
        if empty_tables_after:
            async with engine.begin() as connection:
                for table in reversed(CommitmentsBase.metadata.sorted_tables):
                    await connection.execute(delete(table))
        await engine.dispose()


@contextlib.asynccontextmanager
async def serve_commitments(database_url: str, nats_url: str, stream: StreamSpec, data_dir: Any
                            ) -> AsyncIterator[Commitments]:
    """The commitments service under uvicorn on a free port (relay in process: revocations reach NATS);
    every table is emptied when it stops."""
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday
    settings = CommitmentsSettings(database_url=database_url, nats_url=nats_url, events_stream=stream.name,
                                   events_subject_prefix=stream.subject_prefix, data_dir=data_dir,
                                   relay_in_process=True, relay_poll_seconds=0.2, log_json=False)
    app = create_commitments_app(settings, clock)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or task.done(), "the commitments service to start", timeout=30)
    assert not task.done(), "the commitments service did not start"
    try:
        async with app.state.sessionmaker() as session, session.begin():
            _, admin = await create_key(session, SYSTEM, clock, name="admin", role=Role.ADMIN, partner_id=None)
            _, service = await create_key(session, SYSTEM, clock, name="notifications", role=Role.SERVICE,
                                          partner_id=None)
        yield Commitments(f"http://127.0.0.1:{port}", app, clock, admin, service, stream)
    finally:
        async with app.state.engine.begin() as connection:
            for table in reversed(CommitmentsBase.metadata.sorted_tables):
                await connection.execute(delete(table))
        server.should_exit = True
        await task


def ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


@dataclass
class World:
    """Hauts-de-Seine Habitat asked (liaison, deputy), Vallée Sud Grand Paris asked on another item; the city
    owner of both items; one deadline each."""

    ids: dict[str, str]
    emails: dict[str, str]


async def seed_world(commitments: Commitments) -> World:
    admin = commitments.client(commitments.admin_secret)
    ids: dict[str, str] = {}
    emails = {"liaison": "claire.martin@hsh.example", "deputy": "paul.petit@hsh.example",
              "owner": "agent@sceaux.example", "vsgp_liaison": "roux@vsgp.example"}
    async with admin:
        for key, name, kind in (("hsh", "Hauts-de-Seine Habitat", "bailleur_social"),
                                ("vsgp", "Vallée Sud Grand Paris", "etablissement_public_territorial"),
                                ("city", "Ville de Sceaux", "collectivite")):
            ids[key] = ok(await admin.post("/v1/partners", json={"name": name, "kind": kind}))["id"]
        for key, partner, fields in (
                ("liaison", "hsh", {"civility": "Madame", "first_name": "Claire", "last_name": "Martin",
                                    "title": "Directrice territoriale"}),
                ("deputy", "hsh", {"last_name": "Petit", "role": "deputy"}),
                ("owner", "city", {"last_name": "Agent", "role": "staff"}),
                ("vsgp_liaison", "vsgp", {"last_name": "Roux"})):
            ids[key] = ok(await admin.post(f"/v1/partners/{ids[partner]}/contacts",
                                           json={"email": emails[key], **fields}))["id"]
        async with commitments.app.state.sessionmaker() as session, session.begin():
            _, _, objective = await create_plan_axis_objective(session, commitments.clock)
        for key, partner, title in (("item", "hsh", "Rénovation du centre commercial"),
                                    ("vsgp_item", "vsgp", "Réorganisation du réseau de bus")):
            item = ok(await admin.post("/v1/items", json={
                "objective_id": str(objective.id), "kind": "request", "title": title,
                "plan_text": f"La Ville demande au partenaire : {title.lower()}.",
                "lead_partner_id": ids[partner], "owner_contact_id": ids["owner"]}))
            ids[key] = item["id"]
            ids["plan"] = item["plan_id"]
            ids[f"{key}_deadline"] = ok(await admin.post(f"/v1/items/{item['id']}/deadlines", json={
                "kind": "response", "due_on": "2026-03-16"}))["id"]
    return World(ids, emails)


async def send_items(commitments: Commitments, world: World, *items: str) -> None:
    """Send the world's requests (a draft takes no reminder: the sender cancels those about one)."""
    async with commitments.client(commitments.admin_secret) as admin:
        for item in items or ("item", "vsgp_item"):
            ok(await admin.post(f"/v1/items/{world.ids[item]}/transitions",
                                json={"to": "sent", "letter_reference": "SCX/DGS/2026-041"}))


REMINDERS = {"approaching": DeadlineApproaching, "due": DeadlineDue, "overdue": DeadlineOverdue,
             "escalated": DeadlineEscalated}


def reminder_event(world: World, kind: str = "due", item: str = "item", step: str | None = None,
                   audience: tuple[str, ...] = ("liaison", "deputy")) -> EventEnvelope:
    """A deadline reminder event as the scanner would emit it."""
    offset = {"approaching": -3, "due": 0, "overdue": 1, "escalated": 10}[kind]
    data = REMINDERS[kind](
        reminder_key=f"{world.ids[item + '_deadline']}:1:1:{step or kind}", deadline_id=world.ids[item + "_deadline"],
        item_id=world.ids[item], plan_id=world.ids["plan"], kind="response", due_on=date(2026, 3, 16),
        deadline_version=1, step=step or kind, offset_working_days=offset,
        escalation="late" if kind == "escalated" else "none", audience=list(audience),
        partner_ids=[world.ids["hsh" if item == "item" else "vsgp"]], fire_at=datetime(2026, 3, 2, 8, 30, tzinfo=UTC))
    return EventEnvelope.wrap(data, datetime(2026, 3, 2, 8, 30, tzinfo=UTC), Actor(kind="system"))


async def publish(js: JetStreamContext, stream: StreamSpec, envelope: EventEnvelope, msg_id: str | None = None
                  ) -> None:
    """Publish an event into the stream; another `msg_id` gets past JetStream's dedup (a duplicated event)."""
    await publish_event(js, stream, msg_id or str(envelope.id), envelope.type,
                        envelope.model_dump_json().encode(), {})
