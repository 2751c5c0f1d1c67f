"""The outbox relay run as a separate OS process (`python -m services.commitments relay`, or the relay of
tests/services/commitments/workers/faults.py that pauses before it marks what it published): its environment, its
output read line by line, its logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.commitments.config import CommitmentsSettings

REPOSITORY_ROOT = Path(__file__).resolve().parents[4]

# The relay's settings: variables of these names in the test run's environment are dropped, so the subprocess
# sees exactly the test's configuration.
_RELAY_SETTING_NAMES = {name.upper() for name in CommitmentsSettings.model_fields}

_IMPORT_TIME_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", re.MULTILINE)
_DEDUP_LOG = re.compile(r"event ([0-9a-f-]{36}) was already in the stream")


def relay_environment(settings: CommitmentsSettings, poll_seconds: float = 0.5) -> dict[str, str]:
    """The environment of a relay process using the same database, NATS and stream as the test's app."""
    env = {name: value for name, value in os.environ.items() if name.upper() not in _RELAY_SETTING_NAMES}
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "NATS_URL": settings.nats_url,
            "EVENTS_STREAM": settings.events_stream,
            "EVENTS_SUBJECT_PREFIX": settings.events_subject_prefix,
            "EVENTS_DUPLICATE_WINDOW_SECONDS": str(settings.events_duplicate_window_seconds),
            "DATA_DIR": str(settings.data_dir),
            # A short poll by default: on PostgreSQL a killed relay's lock goes when the server notices the dead
            # connection (on one host, within milliseconds of the kill), and a relay that found it taken looks
            # again on its next turn rather than wait. A test that must rule the poll out sets a long one.
            "RELAY_POLL_SECONDS": str(poll_seconds),
            "LOG_LEVEL": "INFO",
            "LOG_JSON": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class RelayProcess:
    """The standalone relay in its own OS process: stdout read line by line, logs (stderr) in a file. With
    `pause_before_mark_seconds`, the relay of tests/services/commitments/workers/faults.py: it prints
    {"relay": "published-unmarked", "count": N} after publishing a batch and waits that long before marking it;
    with `pause_before_publish_seconds`, it prints {"relay": "read-unpublished", "count": N} once it has read a
    batch and waits that long before publishing any of it."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        pause_before_mark_seconds: float = 0.0,
        pause_before_publish_seconds: float = 0.0,
    ) -> None:
        self.env = env
        faults = "tests.services.commitments.workers.faults"
        if pause_before_mark_seconds:
            self.module = [faults, str(pause_before_mark_seconds)]
        elif pause_before_publish_seconds:
            self.module = [faults, str(pause_before_publish_seconds)]
        else:
            self.module = ["services.commitments"]
        self.command = "relay-before-publish" if pause_before_publish_seconds else "relay"
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.stdout_lines: list[str] = []

    async def start(self) -> RelayProcess:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                *self.module,
                self.command,
                cwd=REPOSITORY_ROOT,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def wait_for_json_line(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        """The first JSON line on stdout that satisfies `predicate`."""
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"relay printed no expected line within {timeout}s; stdout: "
                    f"{self.stdout_lines}; logs:\n{self.log_text()}"
                )
            try:
                raw = await asyncio.wait_for(self.process.stdout.readline(), remaining)
            except TimeoutError:
                continue
            if not raw:
                await self.process.wait()
                raise AssertionError(
                    f"relay exited ({self.process.returncode}) before the expected line; "
                    f"logs:\n{self.log_text()}"
                )
            line = raw.decode().strip()
            self.stdout_lines.append(line)
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and predicate(entry):
                    return entry

    async def kill(self) -> None:
        """SIGKILL: no cleanup, no chance to mark anything — a crash."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait for a clean exit (killed if it does not come)."""
        assert self.process is not None
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                await self.kill()
                raise AssertionError(f"relay did not stop on SIGTERM within {timeout}s") from None
        return self.process.returncode or 0

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def imported_modules(self) -> set[str]:
        """The modules the process imported, when it ran with PYTHONPROFILEIMPORTTIME=1 (`-X importtime`)."""
        return set(_IMPORT_TIME_LINE.findall(self.log_text()))

    def deduplicated_event_ids(self) -> list[str]:
        """Event ids the relay re-published and JetStream reported as duplicates (its dedup log lines)."""
        return _DEDUP_LOG.findall(self.log_text())
