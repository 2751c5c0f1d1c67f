"""A process without an API (a worker, the relay, the scanner) run with HEALTH_PORT for a test, and its probes
asked."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
CLOSED_PORT_NATS = "nats://127.0.0.1:1"  # nothing listens there: NATS is away


@contextlib.contextmanager
def running(
    module: str, command: list[str], env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m module command…` with HEALTH_PORT on a free port, stopped (SIGTERM) at the end; yields the
    process and its probes' base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, *command],
        cwd=ROOT,
        env={**os.environ, "LOG_JSON": "false", "PYTHONPATH": str(ROOT), "HEALTH_PORT": str(port), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def probe(
    process: subprocess.Popen[bytes], url: str, path: str, expected: int, timeout: float = 60.0
) -> httpx.Response:
    """Ask `path` until it answers `expected` (the process may still be starting, or connecting): a bound on
    the wait, not an assertion on time."""
    deadline = time.monotonic() + timeout
    last: httpx.Response | str = "no answer"
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the process exited with {process.returncode}"
        try:
            last = httpx.get(url + path, timeout=5)
            if last.status_code == expected:
                return last
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise AssertionError(f"{path} never answered {expected}; last: {getattr(last, 'text', last)}")
