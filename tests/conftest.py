"""Test infrastructure: real PostgreSQL and SQLite, a real nats-server with JetStream, per-run isolation.

PostgreSQL (127.0.0.1:5432) and NATS (127.0.0.1:4222) are used when reachable. Without them, SQLite-only
runs and a nats-server started here; under CI=true a missing PostgreSQL or NATS fails the run instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ports import free_port

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("TEST_NATS_URL", "nats://127.0.0.1:4222")
RUN_ID = uuid.uuid4().hex[:10]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _unavailable(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not reachable", pytrace=False)
    pytest.skip(f"{what} not reachable")


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A NATS server with JetStream: the machine's, or one started for this run."""
    from urllib.parse import urlparse

    parsed = urlparse(NATS_URL)
    if _reachable(parsed.hostname or "127.0.0.1", parsed.port or 4222):
        yield NATS_URL
        return
    if IN_CI:
        pytest.fail(f"NATS is required under CI=true but {NATS_URL} is not reachable", pytrace=False)
    binary = Path(sys.executable).parent / "nats-server"
    if not binary.exists():
        binary = Path(shutil.which("nats-server") or "nats-server")
    port = free_port()
    store = tempfile.mkdtemp(prefix="eng-nats-")
    process = subprocess.Popen(
        [str(binary), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not _reachable("127.0.0.1", port):
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("could not start a nats-server for the tests")
        time.sleep(0.05)
    yield f"nats://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(store, ignore_errors=True)


@pytest.fixture(scope="session")
def stream_names() -> tuple[str, str]:
    """A stream name and subject prefix no other run uses."""
    return f"T_{RUN_ID}", f"t{RUN_ID}.commitments"


@pytest.fixture(scope="session", autouse=True)
def _delete_test_streams(nats_url: str, stream_names: tuple[str, str]) -> Iterator[None]:
    yield

    async def delete() -> None:
        import nats

        client = await nats.connect(nats_url, connect_timeout=2)
        try:
            js = client.jetstream()
            for info in await js.streams_info():
                if info.config.name.startswith(stream_names[0]):
                    # One stream that fails to go (gone meanwhile, a timeout) must not keep the others.
                    with contextlib.suppress(Exception):
                        await js.delete_stream(info.config.name)
        finally:
            await client.close()

    with contextlib.suppress(Exception):  # cleanup must not hide the test result
        asyncio.run(delete())


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for this run: a SQLite file, or a uniquely named PostgreSQL database."""
    from services.commitments.migrate import upgrade_database

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'commitments.db'}"
        upgrade_database(url)
        yield url
        return
    from sqlalchemy.engine import make_url

    admin = make_url(PG_ADMIN_URL)
    if not _reachable(admin.host or "127.0.0.1", admin.port or 5432):
        _unavailable("PostgreSQL")
    name = f"eng_test_{RUN_ID}"
    asyncio.run(_pg_admin(admin.render_as_string(hide_password=False), f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        asyncio.run(
            _pg_admin(
                admin.render_as_string(hide_password=False), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
        )


async def _pg_admin(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
