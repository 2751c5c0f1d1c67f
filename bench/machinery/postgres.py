"""The PostgreSQL the PostgreSQL benches create their own databases on (BENCH_POSTGRES_URL, else the tests')."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

ADMIN_URL = (
    os.environ.get("BENCH_POSTGRES_URL")
    or os.environ.get("TEST_POSTGRES_URL")
    or "postgresql://postgres@127.0.0.1:5432/test"
)


def plain_url(url: str) -> str:
    """The URL as asyncpg takes it (without SQLAlchemy's driver suffix)."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def admin_execute(statement: str) -> None:
    """Run one statement on the administration database (CREATE / DROP DATABASE)."""
    import asyncpg

    connection = await asyncpg.connect(plain_url(ADMIN_URL))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def scratch_database(prefix: str = "eng_bench") -> AsyncIterator[tuple[str, str]]:
    """A uniquely named database for one run, dropped at the end even when the run fails: (name, URL)."""
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    await admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, url
    finally:
        await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
