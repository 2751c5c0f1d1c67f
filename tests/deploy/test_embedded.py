"""`python -m deploy.embedded` on a fresh data folder: schema, sample plan, admin key, API; a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_first_start_serves_the_sample_plan_and_stops_cleanly(tmp_path: Path, nats_url: str,
                                                              stream_names: tuple[str, str]) -> None:
    port = _free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "PORT": str(port), "NATS_URL": nats_url,
           "EVENTS_STREAM": f"{stream_names[0]}_EMBEDDED", "EVENTS_SUBJECT_PREFIX": f"{stream_names[1]}-embedded"}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "deploy.embedded"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert process.stdout is not None
        output = []
        deadline = time.monotonic() + 60
        while not any("Press Ctrl-C" in line for line in output):
            line = process.stdout.readline()
            assert line and time.monotonic() < deadline, "".join(output)
            output.append(line)
        key_file = tmp_path / "data" / "admin-key.txt"
        secret = key_file.read_text().strip()
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert secret in "".join(output) and f"http://127.0.0.1:{port}/docs" in "".join(output)
        plans = httpx.get(f"http://127.0.0.1:{port}/v1/plans", headers={"Authorization": f"Bearer {secret}"})
        assert plans.status_code == 200 and len(plans.json()) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
