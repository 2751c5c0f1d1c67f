"""The command line: `rebuild` as an operator runs it (a progress bar, a French summary; a refusal in French with
exit code 2), and `--help` without a heavy import."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
from nats.js.api import StreamConfig

from services.reporting.config import ReportingSettings
from shared.bus import StreamSpec
from tests.services.reporting.conftest import reporting_settings
from tests.services.reporting.history import scorecard_story
from tests.services.reporting.running_projector import dump_tables
from tests.services.reporting.scripted_events import publish_all

ROOT = Path(__file__).resolve().parents[3]


def _command(settings: ReportingSettings, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NATS_URL": settings.nats_url,
        "EVENTS_STREAM": settings.events_stream,
        "EVENTS_SUBJECT_PREFIX": settings.events_subject_prefix,
        "NOTIFICATIONS_EVENTS_STREAM": settings.notifications_events_stream,
        "NOTIFICATIONS_EVENTS_SUBJECT_PREFIX": settings.notifications_events_subject_prefix,
        "REPORTING_DATABASE_URL": settings.database_url,
        "LOG_JSON": "false",
        "COLUMNS": "100",
    }
    return subprocess.run(
        [sys.executable, "-m", "services.reporting", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_rebuild_command_shows_progress_and_refuses_a_truncated_stream(
    new_reporting_database: Callable[..., Awaitable[str]],
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    story = scorecard_story(uuid.uuid4(), uuid.uuid4())
    settings = reporting_settings(await new_reporting_database(migrated=False), nats_url, streams)
    client = await nats.connect(nats_url)
    try:
        await publish_all(client.jetstream(), streams[0], story.script.commitments)
        await publish_all(client.jetstream(), streams[1], story.script.notifications)
    finally:
        await client.drain()
    done = await asyncio.to_thread(_command, settings, "rebuild")
    assert done.returncode == 0, done.stderr
    assert "commitments" in done.stderr and "notifications" in done.stderr  # the progress bars' labels
    assert (
        f"Base reconstruite (commitments : {len(story.script.commitments)} événement(s), notifications : "
        f"{len(story.script.notifications)} événement(s))."
    ) in done.stderr
    assert (await dump_tables(settings.database_url))["items"]

    # Another installation whose commitments stream keeps only its last 5 events.
    truncated = reporting_settings(
        await new_reporting_database(migrated=False),
        nats_url,
        (StreamSpec(f"{streams[0].name}_T", f"{streams[0].subject_prefix}t"), streams[1]),
    )
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        await js.add_stream(
            StreamConfig(
                name=truncated.events_stream, subjects=[f"{truncated.events_subject_prefix}.>"], max_msgs=5
            )
        )
        await publish_all(
            js, StreamSpec(truncated.events_stream, truncated.events_subject_prefix), story.script.commitments
        )
    finally:
        await client.drain()
    refused = await asyncio.to_thread(_command, truncated, "rebuild", "--quiet")
    assert refused.returncode == 2
    assert "error: Le flux" in refused.stderr and "reconstruction refusée" in refused.stderr


def test_help_answers() -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "services.reporting", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert answer.returncode == 0
    assert all(command in answer.stdout for command in ("migrate", "serve", "project", "rebuild"))
