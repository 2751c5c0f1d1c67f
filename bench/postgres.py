"""The PostgreSQL the PostgreSQL benches create their own databases on (BENCH_POSTGRES_URL, else the tests')."""

from __future__ import annotations

import os

ADMIN_URL = (os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
             or "postgresql://postgres@127.0.0.1:5432/test")


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
