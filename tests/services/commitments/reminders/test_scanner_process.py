"""`python -m services.commitments scan` as its own OS process: killed (SIGKILL) in the middle of a batch, then
restarted, it loses nothing and sends nothing twice; SIGTERM stops it cleanly. To be killed mid-batch, it is run
with a pause inside each batch's transaction (tests/services/commitments/workers/faults.py)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.commitments.config import CommitmentsSettings
from services.commitments.idempotency.models import IdempotencyRecord
from services.commitments.idempotency.retention import RETENTION
from services.commitments.reminders import rules as r
from services.commitments.reminders.models import ReminderFiring
from shared.calendar import WorkingCalendar
from tests.services.commitments.outbox.relay_process import REPOSITORY_ROOT, relay_environment
from tests.services.commitments.reminders.requests import sent_request
from tests.services.commitments.reminders.test_scanner import _count_outbox

pytestmark = pytest.mark.slow

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the clock fixture's instant, when the deadlines are set
AS_OF = datetime(2026, 3, 18, 10, 0, tzinfo=UTC)
DAYS = [3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18]


async def _start_scanner(
    settings: CommitmentsSettings,
    log: Path,
    *args: str,
    batch_size: int = 4,
    pause: float = 0.0,
    env_extra: dict[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """The scanner process, its stdout (the command's JSON lines) piped and its logs in `log`; with `pause`,
    the scanner of faults.py, which prints {"scanner": "paused-in-batch", …} and waits that long in each batch's
    transaction."""
    env = relay_environment(settings)
    env.update({"SCANNER_BATCH_SIZE": str(batch_size), "SCANNER_POLL_SECONDS": "0.5", "LOG_JSON": "true"})
    env.update(env_extra or {})
    module = ["tests.services.commitments.workers.faults", str(pause)] if pause else ["services.commitments"]
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            *module,
            "scan",
            *args,
            cwd=REPOSITORY_ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )


def _paused_in_batch(entry: dict[str, object]) -> bool:
    return entry.get("scanner") == "paused-in-batch"


async def _json_lines(
    process: asyncio.subprocess.Process,
    wanted: Callable[[dict[str, object]], bool],
    count: int,
    log: Path,
    timeout: float = 60.0,
) -> list[dict[str, object]]:
    """Read stdout until `count` JSON lines satisfy `wanted` (a generous bound, not a timing assertion)."""
    assert process.stdout is not None
    found: list[dict[str, object]] = []
    while len(found) < count:
        try:
            raw = await asyncio.wait_for(process.stdout.readline(), timeout)
        except TimeoutError:
            raise AssertionError(f"no expected line from the scanner; logs:\n{log.read_text()}") from None
        if not raw:
            raise AssertionError(f"scanner exited ({await process.wait()}); logs:\n{log.read_text()}")
        try:
            entry = json.loads(raw)
        except ValueError:
            continue  # a line that is not JSON (a warning printed by a library): not ours
        if wanted(entry):
            found.append(entry)
    return found


async def test_a_scanner_killed_in_a_batch_then_restarted_loses_nothing_and_repeats_nothing(
    app: FastAPI,
    admin: httpx.AsyncClient,
    settings: CommitmentsSettings,
    tmp_path: Path,
    make_partner: Callable[..., Awaitable[uuid.UUID]],
    make_objective: Callable[[], Awaitable[uuid.UUID]],
    firings: Callable[..., Awaitable[list[ReminderFiring]]],
) -> None:
    objective, partner = await make_objective(), await make_partner("Hauts-de-Seine Habitat")
    requests = [
        await sent_request(admin, objective, partner, f"2026-03-{day:02d}", title=f"Demande {n}")
        for n, day in enumerate(DAYS)
    ]
    log = tmp_path / "scanner.log"
    # The scanner has been down since the deadlines were set: each one owes its latest missed step.
    first = await _start_scanner(settings, log, "--as-of", AS_OF.isoformat(), pause=1.0)
    try:
        await _json_lines(first, _paused_in_batch, 2, log)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    committed = await firings()
    assert len(committed) == 4  # the first batch committed; the second died with its transaction

    second = await _start_scanner(settings, log, "--once", "--as-of", AS_OF.isoformat())
    [result] = await _json_lines(second, lambda e: e.get("scanner") == "tick", 1, log)
    assert await second.wait() == 0
    assert result["fired"] == len(requests) - 4

    fired = await firings()
    calendar = WorkingCalendar()
    expected = {}
    for request, day in zip(requests, DAYS, strict=True):
        steps = [
            s for s in r.schedule(date(2026, 3, day), r.DEFAULT_RULES, calendar) if START < s.fire_at <= AS_OF
        ]
        expected[request.deadline_id] = steps[-1].name
    assert {str(f.deadline_id): f.step for f in fired} == expected
    assert len(fired) == len({f.reminder_key for f in fired}) == len(requests)
    assert {f.reminder_key for f in committed} <= {f.reminder_key for f in fired}
    assert await _count_outbox(app, "deadline.%") == 2 * len(
        requests
    )  # one deadline.set and one reminder each


async def test_the_scanner_process_stops_cleanly_on_sigterm(
    settings: CommitmentsSettings, tmp_path: Path, app: FastAPI
) -> None:
    log = tmp_path / "scanner.log"
    process = await _start_scanner(settings, log)
    try:
        await _json_lines(process, lambda e: e.get("scanner") == "started", 1, log)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_the_scanner_process_purges_the_expired_idempotency_records(
    settings: CommitmentsSettings, tmp_path: Path, app: FastAPI
) -> None:
    """By the system's clock (the records' retention is real time), not by its --as-of, which is years ahead
    here: the record still within its retention stays."""
    now = datetime.now(UTC)  # the process's own clock: a record's age is measured against it
    async with app.state.sessionmaker() as session, session.begin():
        for key, age in (
            ("expired", RETENTION + timedelta(minutes=5)),
            ("kept", RETENTION - timedelta(hours=1)),
        ):
            session.add(
                IdempotencyRecord(
                    caller_hash="c" * 64,
                    key=key,
                    method="POST",
                    path="/v1/items",
                    request_hash="r" * 64,
                    status_code=201,
                    body="{}",
                    created_at=now - age,
                )
            )

    async def keys() -> set[str]:
        async with app.state.sessionmaker() as session:
            return set(await session.scalars(select(IdempotencyRecord.key)))

    log = tmp_path / "scanner.log"
    process = await _start_scanner(
        settings, log, "--as-of", "2031-01-06T10:00:00+00:00", env_extra={"IDEMPOTENCY_PURGE_SECONDS": "0.2"}
    )
    try:
        await _json_lines(process, lambda e: e.get("scanner") == "started", 1, log)
        async with asyncio.timeout(60):  # a generous bound: the purge runs at once, then every 0.2 s
            while "expired" in await keys():
                assert process.returncode is None, log.read_text()
                await asyncio.sleep(0.1)
        assert await keys() == {"kept"}
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert "1 expired Idempotency-Key record(s) purged" in log.read_text()
