"""Bring the commitments database to the latest schema with Alembic, from code (CLI, embedded run, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(database_url: str) -> Config:
    """The service's Alembic configuration, pointed at `database_url`."""
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = database_url
    return config


def upgrade_database(database_url: str) -> None:
    """Run `alembic upgrade head` on `database_url` (safe to call from a thread running an event loop)."""
    command.upgrade(alembic_config(database_url), "head")
