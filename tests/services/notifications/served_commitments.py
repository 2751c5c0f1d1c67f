"""The commitments service as the notifications tests talk to it: over real HTTP (uvicorn in this process, or
`python -m services.commitments serve` in a process of its own), with an admin and a service key."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import delete

from services.commitments.app import create_app as create_commitments_app
from services.commitments.auth.service import create_key
from services.commitments.config import CommitmentsSettings
from services.commitments.database import outbox_aware_sessionmaker
from services.commitments.models import Base as CommitmentsBase
from shared.auth import SYSTEM, Role
from shared.bus import StreamSpec
from shared.clock import FixedClock
from shared.db import create_engine
from tests.ports import free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]


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
            key, secret = await create_key(
                session,
                SYSTEM,
                self.clock,
                name=f"test {role}",
                role=role,
                partner_id=uuid.UUID(str(partner_id)) if partner_id else None,
            )
        return str(key.id), secret


@contextlib.asynccontextmanager
async def commitments_process(
    database_url: str, nats_url: str, stream: StreamSpec, data_dir: Path, empty_tables_after: bool = False
) -> AsyncIterator[Commitments]:
    """The commitments service as deployed, `python -m services.commitments serve` in a process of its own, with
    an admin and a service key made in its database first. What it yields serves seed_world as serve_commitments'
    does (the plan is written through a sessionmaker of this process on the same database)."""
    engine = create_engine(database_url)
    sessionmaker = outbox_aware_sessionmaker(engine, lambda: None)  # nothing this side writes is published
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday, as in the other tests
    async with sessionmaker() as session, session.begin():
        _, admin = await create_key(session, SYSTEM, clock, name="admin", role=Role.ADMIN, partner_id=None)
        _, service = await create_key(
            session, SYSTEM, clock, name="notifications", role=Role.SERVICE, partner_id=None
        )
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "EVENTS_STREAM": stream.name,
        "EVENTS_SUBJECT_PREFIX": stream.subject_prefix,
        "DATA_DIR": str(data_dir),
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.commitments",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=environment,
        cwd=ROOT,
    )
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
async def serve_commitments(
    database_url: str, nats_url: str, stream: StreamSpec, data_dir: Any, tracing: bool = False
) -> AsyncIterator[Commitments]:
    """The commitments service under uvicorn on a free port (relay in process: revocations reach NATS), its
    requests traced if asked; every table is emptied when it stops."""
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday
    settings = CommitmentsSettings(
        database_url=database_url,
        nats_url=nats_url,
        events_stream=stream.name,
        events_subject_prefix=stream.subject_prefix,
        data_dir=data_dir,
        relay_in_process=True,
        relay_poll_seconds=0.2,
        log_json=False,
        tracing=tracing,
    )
    app = create_commitments_app(settings, clock)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or task.done(), "the commitments service to start", timeout=30)
    assert not task.done(), "the commitments service did not start"
    try:
        async with app.state.sessionmaker() as session, session.begin():
            _, admin = await create_key(
                session, SYSTEM, clock, name="admin", role=Role.ADMIN, partner_id=None
            )
            _, service = await create_key(
                session, SYSTEM, clock, name="notifications", role=Role.SERVICE, partner_id=None
            )
        yield Commitments(f"http://127.0.0.1:{port}", app, clock, admin, service, stream)
    finally:
        async with app.state.engine.begin() as connection:
            for table in reversed(CommitmentsBase.metadata.sorted_tables):
                await connection.execute(delete(table))
        server.should_exit = True
        await task
