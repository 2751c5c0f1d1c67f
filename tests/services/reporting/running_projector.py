"""The reporting projector run in a test until it has caught up, and the read model's tables dumped for
comparison."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from nats.aio.client import Client as NatsClient
from sqlalchemy import select

from services.reporting.config import ReportingSettings
from services.reporting.models import Base
from services.reporting.projection.models import StreamPosition
from services.reporting.projection.projector import run_projectors
from shared.bus import StreamSpec, ensure_stream
from shared.db import create_engine, create_sessionmaker
from tests.waiting import wait_until


async def stream_last_seqs(client: NatsClient, streams: tuple[StreamSpec, StreamSpec]) -> dict[str, int]:
    js = client.jetstream()
    seqs = {}
    for name, spec in zip(("commitments", "notifications"), streams, strict=True):
        await ensure_stream(js, spec)
        seqs[name] = (await js.stream_info(spec.name)).state.last_seq
    return seqs


async def positions(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            return {row.stream: row.last_seq for row in await session.scalars(select(StreamPosition))}
    finally:
        await engine.dispose()


async def wait_caught_up(
    database_url: str, client: NatsClient, streams: tuple[StreamSpec, StreamSpec], timeout: float = 60.0
) -> None:
    """Until the tables hold every event the streams hold now."""
    wanted = await stream_last_seqs(client, streams)

    async def caught_up() -> bool:
        held = await positions(database_url)
        return all(held.get(name, 0) >= seq for name, seq in wanted.items())

    await wait_until(caught_up, f"the projection to reach {wanted}", timeout=timeout)


@contextlib.asynccontextmanager
async def projector_running(settings: ReportingSettings, client: NatsClient) -> AsyncIterator[None]:
    """The projector of both streams, in this process, until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_projectors(settings, client, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def project(
    settings: ReportingSettings, client: NatsClient, streams: tuple[StreamSpec, StreamSpec]
) -> None:
    """Run the projector until it has applied everything in the streams now."""
    async with projector_running(settings, client):
        await wait_caught_up(settings.database_url, client, streams)


async def dump_tables(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the read model, sorted: two databases with the same dump hold the same."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            dump = {}
            for table in Base.metadata.sorted_tables:
                rows = (await connection.execute(select(table))).all()
                dump[table.name] = sorted(tuple(repr(value) for value in row) for row in rows)
            return dump
    finally:
        await engine.dispose()
