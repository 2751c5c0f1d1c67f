"""The `rebuild` command: replay both streams from their first event into a fresh database, with a progress
bar. The same code applies each batch as the live projector does (projector.apply_batch), so the tables come
out the same. A stream that no longer holds its beginning (messages removed by limits set on it) would give
wrong figures: the command says so and refuses."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.config import ReportingSettings
from services.reporting.migrate import upgrade_database
from services.reporting.projection.models import ProcessedEvent, StreamPosition
from services.reporting.projection.projector import Source, apply_batch, sources
from shared.bus import connect
from shared.calendar import use_calendar
from shared.db import create_engine, create_sessionmaker
from shared.problems import Conflict

logger = logging.getLogger(__name__)


class RebuildRefused(Conflict):
    code, title = "rebuild-refused", "Reconstruction impossible"


@dataclass(frozen=True)
class StreamExtent:
    """What a stream holds: its sequences first..last (last 0: nothing yet)."""

    source: Source
    first_seq: int
    last_seq: int


async def check_whole_history(js: JetStreamContext, source: Source) -> StreamExtent:
    """The stream's extent, or RebuildRefused when it no longer holds its first event."""
    try:
        info = await js.stream_info(source.spec.name)
    except NotFoundError:
        return StreamExtent(source, 0, 0)  # never created: no event yet (the projector creates it)
    state = info.state
    if state.first_seq > 1 or state.num_deleted:
        removed = max(state.first_seq - 1, 0) + (state.num_deleted or 0)
        raise RebuildRefused(
            f"Le flux {source.spec.name} ({source.name}) ne contient plus tout son historique : "
            f"{removed} événement(s) en ont été retirés (premier événement conservé : n° {state.first_seq}), "
            "sans doute par des limites de rétention. Reconstruire à partir de lui donnerait des chiffres faux : "
            "reconstruction refusée. Les flux d'événements doivent garder tout leur historique (README, "
            "service des rapports)."
        )
    return StreamExtent(source, state.first_seq, state.last_seq)


async def _check_empty(sessionmaker: async_sessionmaker[AsyncSession], url: str) -> None:
    async with sessionmaker() as session:
        applied = await session.scalar(select(func.count()).select_from(ProcessedEvent))
        positions = await session.scalar(select(func.count()).select_from(StreamPosition))
    if applied or positions:
        raise RebuildRefused(
            f"La base de destination n'est pas vide ({applied} événement(s) déjà appliqués) : "
            "la reconstruction remplit une base neuve. Indiquez une autre base (--into) ou "
            "créez-en une vide."
        )


async def replay(
    js: JetStreamContext,
    sessionmaker: async_sessionmaker[AsyncSession],
    extent: StreamExtent,
    batch_size: int,
    progress: Progress | None = None,
) -> int:
    """Apply every event of the stream, from its first, in batches; the number of events read."""
    if extent.last_seq == 0:
        return 0
    task = progress.add_task(extent.source.name, total=extent.last_seq) if progress is not None else None
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=60.0
    )
    subscription = await js.pull_subscribe(
        extent.source.spec.subject_for(">"), stream=extent.source.spec.name, config=config
    )
    read, reached = 0, 0
    try:
        while reached < extent.last_seq:
            try:
                messages = await subscription.fetch(batch_size, timeout=5.0)
            except (TimeoutError, nats.errors.TimeoutError):
                raise RebuildRefused(
                    f"Le flux {extent.source.spec.name} n'a plus rendu d'événement après le n° "
                    f"{reached} (sur {extent.last_seq}) : reconstruction interrompue."
                ) from None
            batch = [(message.metadata.sequence.stream, message.data) for message in messages]
            if reached == 0 and min(seq for seq, _ in batch) != 1:
                raise RebuildRefused(
                    f"Le flux {extent.source.spec.name} a perdu son début pendant la "
                    "reconstruction (limites de rétention) : reconstruction refusée."
                )
            await apply_batch(sessionmaker, extent.source, batch)
            read += len(batch)
            reached = max(reached, *(seq for seq, _ in batch))
            if progress is not None and task is not None:
                progress.update(task, completed=min(reached, extent.last_seq))
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
    return read


async def rebuild(
    settings: ReportingSettings,
    into: str | None = None,
    client: NatsClient | None = None,
    show_progress: bool = True,
) -> dict[str, int]:
    """Fill a fresh database (`into`, by default the configured one) from both streams' whole history; the
    number of events read per stream."""
    url = into or settings.database_url
    use_calendar(settings.working_calendar())
    upgrade_database(url)
    engine = create_engine(url, pool_size=2)
    own_client = client is None
    client = client or await connect(settings.nats_url, name="reporting-rebuild")
    try:
        sessionmaker = create_sessionmaker(engine)
        await _check_empty(sessionmaker, url)
        js = client.jetstream()
        # Every stream checked before anything is written: a refusal leaves the database empty.
        extents = [await check_whole_history(js, source) for source in sources(settings)]
        counts: dict[str, int] = {}
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not show_progress,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        with progress:
            for extent in extents:
                counts[extent.source.name] = await replay(
                    js, sessionmaker, extent, settings.projector_batch_size, progress
                )
        return counts
    finally:
        if own_client:
            with contextlib.suppress(Exception):
                await client.drain()
        await engine.dispose()
