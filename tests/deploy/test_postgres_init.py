"""deploy/postgres/init-databases.sh (what the Compose stack's PostgreSQL runs on its first start) against the
real PostgreSQL of the tests: one role and one database per service, owned by its role, closed to the others;
a missing password stops it. Names of this run only, dropped afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import asyncpg
import pytest

from tests.conftest import PG_ADMIN_URL, RUN_ID, _reachable, _unavailable
from tests.deploy.conftest import ROOT

SCRIPT = ROOT / "deploy/postgres/init-databases.sh"
NAMES = [f"t{RUN_ID}_{service}" for service in ("commitments", "notifications", "reporting")]


def _run(passwords: dict[str, str]) -> subprocess.CompletedProcess[str]:
    admin = urlparse(PG_ADMIN_URL)
    env = {
        **os.environ,
        "POSTGRES_USER": admin.username or "postgres",
        "PGHOST": admin.hostname or "127.0.0.1",
        "PGPORT": str(admin.port or 5432),
        "ENGAGEMENTS_DATABASES": " ".join(NAMES),
        **{f"{name.upper()}_DB_PASSWORD": password for name, password in passwords.items()},
    }
    return subprocess.run(
        ["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def _drop() -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        for name in NAMES:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'DROP ROLE IF EXISTS "{name}"')
    finally:
        await connection.close()


@pytest.fixture
async def clean() -> AsyncIterator[None]:
    admin = urlparse(PG_ADMIN_URL)
    if not _reachable(admin.hostname or "127.0.0.1", admin.port or 5432):
        _unavailable("PostgreSQL")
    if shutil.which("psql") is None:
        _unavailable("psql")
    await _drop()
    yield
    await _drop()


async def test_one_database_and_role_per_service(clean: None) -> None:
    result = _run({name: f"secret-{name}" for name in NAMES})
    assert result.returncode == 0, result.stderr
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        for name in NAMES:
            role = await connection.fetchrow(
                "SELECT rolcanlogin, rolsuper, rolcreatedb, rolpassword IS NOT NULL "
                "AS has_password FROM pg_authid WHERE rolname = $1",
                name,
            )
            assert role is not None and role["rolcanlogin"] and role["has_password"], name
            assert not role["rolsuper"] and not role["rolcreatedb"], name
            owner = await connection.fetchval(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name
            )
            assert owner == name
            # Closed to the other services' roles: only its owner (and superusers) may connect.
            for other in NAMES:
                allowed = await connection.fetchval(
                    "SELECT has_database_privilege($1, $2, 'CONNECT')", other, name
                )
                assert allowed == (other == name), (other, name)
    finally:
        await connection.close()


async def test_a_missing_password_stops_it(clean: None) -> None:
    result = _run({NAMES[0]: "secret"})
    assert result.returncode != 0
    assert f"{NAMES[1].upper()}_DB_PASSWORD is not set" in result.stderr
