"""`python -m services.commitments`: the admin commands on a real database, each in its own process."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_JSON": "false", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "services.commitments", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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


SAMPLE_DATA = ROOT / "services/commitments/plans/sample_data"
CENTRE_VILLE = ROOT / "tests/services/commitments/plans/importer_fixtures/plan-centre-ville.txt"


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # fixed names


def test_import_a_directory_then_plans(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    url = f"sqlite:///{database}"
    assert _cli(url, "migrate").returncode == 0
    blagis = str(SAMPLE_DATA / "plan-action-blagis.txt")

    no_commune = _cli(url, "import-plan", blagis)  # no default commune or territory any more
    assert no_commune.returncode != 0 and "--commune" in no_commune.stderr
    bad_date = _cli(url, "import-plan", blagis, "--commune", "Sceaux", "--adopted-on", "24/06/2021")
    assert bad_date.returncode == 2 and "--adopted-on" in bad_date.stderr
    not_a_directory = _cli(url, "import-directory", blagis)
    assert not_a_directory.returncode != 0 and "not a directory file" in not_a_directory.stderr

    directory = _cli(url, "import-directory", str(SAMPLE_DATA / "annuaire-sceaux.json"))
    assert directory.returncode == 0, directory.stderr
    assert "11 created, 0 completed, 0 unchanged" in directory.stdout
    again = _cli(url, "import-directory", str(SAMPLE_DATA / "annuaire-sceaux.json"))
    assert "0 created, 0 completed, 11 unchanged" in again.stdout

    created = _cli(
        url,
        "import-plan",
        blagis,
        "--commune",
        "Sceaux",
        "--territory",
        "Quartier des Blagis",
        "--adopted-on",
        "2021-06-24",
    )
    assert created.returncode == 0, created.stderr
    plan_id = re.search(r"created plan ([0-9a-f-]{36})", created.stdout).group(1)  # type: ignore[union-attr]
    assert "items created: 25" in created.stdout and "partners added to the directory: none" in created.stdout
    assert re.search(
        r"^    II\.D\.3  \[[a-z-]+\] ", created.stdout, re.MULTILINE
    )  # flags listed with their code

    refused = _cli(url, "import-plan", blagis, "--commune", "Sceaux", "--territory", "Quartier des Blagis")
    assert refused.returncode == 2 and plan_id in refused.stderr and "--plan" in refused.stderr
    completed = _cli(url, "import-plan", blagis, "--plan", plan_id)
    assert completed.returncode == 0, completed.stderr
    assert (
        f"completed plan {plan_id}" in completed.stdout
        and "items created: 0; already in the plan: 25" in completed.stdout
    )
    assert _cli(url, "import-plan", blagis, "--plan", plan_id, "--commune", "Sceaux").returncode != 0

    other = _cli(url, "import-plan", str(CENTRE_VILLE), "--commune", "Sceaux", "--territory", "Centre-ville")
    assert other.returncode == 0, other.stderr
    assert "[partner-created]" in other.stdout and "[group-without-members]" in other.stdout
    assert (_count(database, "plans"), _count(database, "items")) == (2, 32)
