"""`python -m services.commitments`: the admin commands on a real database, each in its own process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_JSON": "false", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "services.commitments", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_migrate_then_create_list_and_revoke_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert _cli(url, "migrate").returncode == 0

    created = _cli(url, "create-key", "--role", "admin", "--name", "ops")
    assert created.returncode == 0, created.stderr
    assert re.fullmatch(r"eng_\S+\n", created.stdout)  # the secret alone on stdout, for scripts
    key_id = re.search(r"admin key ([0-9a-f-]{36})", created.stderr).group(1)  # type: ignore[union-attr]

    refused = _cli(url, "create-key", "--role", "partner", "--name", "no partner")
    assert refused.returncode == 2 and refused.stderr.startswith("error:")

    listed = _cli(url, "list-keys")
    assert key_id in listed.stdout and created.stdout.strip() not in listed.stdout

    assert _cli(url, "revoke-key", key_id).returncode == 0
    revoked_line = next(line for line in _cli(url, "list-keys").stdout.splitlines() if key_id in line)
    assert re.search(r"\d{4}-\d{2}-\d{2}", revoked_line)
