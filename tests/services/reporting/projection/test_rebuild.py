"""`rebuild`: both streams replayed from their first event into a fresh database give the very tables the live
projection built (whatever the interleaving of the streams was live); a stream that lost its beginning, or a
database already filled, is refused in French and nothing is written."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import nats
import pytest
from nats.js.api import StreamConfig

from services.reporting.projection.rebuild import RebuildRefused, rebuild
from shared.bus import StreamSpec
from tests.services.reporting.conftest import reporting_settings
from tests.services.reporting.history import scorecard_story
from tests.services.reporting.running_projector import (
    dump_tables,
    positions,
    projector_running,
    wait_caught_up,
)
from tests.services.reporting.scripted_events import publish_all

NewDatabase = Callable[..., Awaitable[str]]


async def test_rebuild_gives_the_tables_of_the_live_projection(
    new_reporting_database: NewDatabase, nats_url: str, streams: tuple[StreamSpec, StreamSpec]
) -> None:
    story = scorecard_story(uuid.uuid4(), uuid.uuid4())
    live = reporting_settings(await new_reporting_database(), nats_url, streams)
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        async with projector_running(live, client):
            # Live, the notifications stream runs ahead of the commitments one; the rebuild replays one after
            # the other.
            half = len(story.script.commitments) // 2
            await publish_all(js, streams[0], story.script.commitments[:half])
            await publish_all(js, streams[1], story.script.notifications)
            await wait_caught_up(live.database_url, client, streams)
            await publish_all(js, streams[0], story.script.commitments[half:])
            await wait_caught_up(live.database_url, client, streams)
        fresh = await new_reporting_database(migrated=False)
        counts = await rebuild(live, into=fresh, client=client, show_progress=False)
    finally:
        await client.drain()
    assert counts == {
        "commitments": len(story.script.commitments),
        "notifications": len(story.script.notifications),
    }
    live_tables, rebuilt_tables = await dump_tables(live.database_url), await dump_tables(fresh)
    assert live_tables["items"] and live_tables["deliveries"] and live_tables["timeline_entries"]
    assert rebuilt_tables == live_tables


async def test_a_stream_that_lost_its_beginning_is_refused(
    new_reporting_database: NewDatabase, nats_url: str, streams: tuple[StreamSpec, StreamSpec]
) -> None:
    story = scorecard_story(uuid.uuid4(), uuid.uuid4())
    settings = reporting_settings(await new_reporting_database(), nats_url, streams)
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        # An operator's retention limit: the stream keeps its last 10 events only.
        await js.add_stream(StreamConfig(name=streams[0].name, subjects=streams[0].subjects, max_msgs=10))
        await publish_all(js, streams[0], story.script.commitments)
        with pytest.raises(RebuildRefused) as refused:
            await rebuild(settings, client=client, show_progress=False)
    finally:
        await client.drain()
    removed = len(story.script.commitments) - 10
    assert (
        f"Le flux {streams[0].name} (commitments) ne contient plus tout son historique"
        in refused.value.detail
    )
    assert f"{removed} événement(s) en ont été retirés" in refused.value.detail
    assert "reconstruction refusée" in refused.value.detail
    assert await positions(settings.database_url) == {}  # nothing written


async def test_a_database_already_filled_is_refused(
    new_reporting_database: NewDatabase, nats_url: str, streams: tuple[StreamSpec, StreamSpec]
) -> None:
    story = scorecard_story(uuid.uuid4(), uuid.uuid4())
    settings = reporting_settings(await new_reporting_database(), nats_url, streams)
    client = await nats.connect(nats_url)
    try:
        await publish_all(client.jetstream(), streams[0], story.script.commitments)
        await rebuild(settings, client=client, show_progress=False)
        before = await dump_tables(settings.database_url)
        with pytest.raises(RebuildRefused) as refused:
            await rebuild(settings, client=client, show_progress=False)
    finally:
        await client.drain()
    assert "La base de destination n'est pas vide" in refused.value.detail
    assert await dump_tables(settings.database_url) == before


async def test_the_projector_goes_on_from_a_rebuilt_database(
    new_reporting_database: NewDatabase, nats_url: str, streams: tuple[StreamSpec, StreamSpec]
) -> None:
    """Rebuild into a new database while the old one's projector goes on; then switch: the projector, on the
    rebuilt database with the same durable consumer name, applies what came since the rebuild (its consumer had
    gone past it for the old database) and ends with the old database's tables."""
    story = scorecard_story(uuid.uuid4(), uuid.uuid4())
    half = len(story.script.commitments) // 2
    old = reporting_settings(await new_reporting_database(), nats_url, streams)
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        await publish_all(js, streams[0], story.script.commitments[:half])
        rebuilt = await new_reporting_database(migrated=False)
        await rebuild(old, into=rebuilt, client=client, show_progress=False)
        async with projector_running(old, client):
            await publish_all(js, streams[0], story.script.commitments[half:])
            await publish_all(js, streams[1], story.script.notifications)
            await wait_caught_up(old.database_url, client, streams)
        switched = old.model_copy(update={"reporting_database_url": rebuilt})
        async with projector_running(switched, client):
            await wait_caught_up(rebuilt, client, streams)
    finally:
        await client.drain()
    assert await dump_tables(rebuilt) == await dump_tables(old.database_url)
