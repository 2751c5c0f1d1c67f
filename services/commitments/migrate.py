"""Placeholder until Alembic lands: create the schema from the models."""

from __future__ import annotations

import asyncio

from services.commitments.models import Base
from shared.db import create_engine


def upgrade_database(database_url: str) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await engine.dispose()

    asyncio.run(run())
