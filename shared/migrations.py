"""The Alembic environment every service's migrations/env.py runs: async engines, SQLite or PostgreSQL.

The URL comes from, in order: `config.attributes["database_url"]` (set by a service's `upgrade_database`),
`-x database_url=...` on the alembic command line, then the service's settings. A caller that already holds
a connection may pass it as `config.attributes["connection"]`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from logging.config import fileConfig
from pathlib import Path
from typing import Any, Literal

from alembic import command, context
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.types import TypeDecorator

from shared.db import async_database_url
from shared.sqlite_files import make_sqlite_file_private


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render project TypeDecorators (UtcDateTime …) as their plain SQLAlchemy type, so that migrations do
    not import application code that may change later."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def run_environment(
    metadata: MetaData, default_url: Callable[[], str], version_table: str = "alembic_version"
) -> None:
    """Run the migrations of one service (online or offline), as its env.py is asked to (alembic's `context`
    stands for the environment while env.py runs)."""
    config = context.config
    # Configure logging only when nobody has (the alembic command line); a service calling
    # upgrade_database keeps its own logging untouched.
    if config.config_file_name is not None and not logging.getLogger().handlers:
        fileConfig(config.config_file_name, disable_existing_loggers=False)

    def database_url() -> str:
        url = config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get(
            "database_url"
        )
        return str(url or default_url())

    def do_run_migrations(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=version_table,
            # Batch operations in every generated script: the same script must also run on SQLite, which
            # cannot ALTER most things in place (on PostgreSQL a batch is plain ALTER statements).
            render_as_batch=True,
            render_item=render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async_migrations(url: str) -> None:
        # A plain engine, not shared.db.create_engine: migrations must run with SQLite's foreign keys off
        # (a batch "copy and move" drops tables, which would cascade deletes with them on).
        engine = create_async_engine(async_database_url(url), poolclass=pool.NullPool)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(do_run_migrations)
        finally:
            await engine.dispose()

    if context.is_offline_mode():
        context.configure(
            url=async_database_url(database_url()),
            target_metadata=metadata,
            version_table=version_table,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            render_as_batch=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    url = database_url()
    make_sqlite_file_private(url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run_async_migrations(url))
        return
    # Called from a thread that runs an event loop (a test, an async main): asyncio.run cannot nest,
    # so migrate on a fresh thread with its own loop and wait for it.
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            asyncio.run(run_async_migrations(url))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread below
            errors.append(exc)

    thread = threading.Thread(target=migrate, name="alembic-migrate")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@dataclass(frozen=True)
class ServiceMigrations:
    """A service's Alembic history (its alembic.ini), run from code: CLI, embedded run, tests, benches."""

    ini: Path

    def config(self, database_url: str) -> Config:
        """The Alembic configuration, pointed at `database_url`."""
        config = Config(str(self.ini))
        config.attributes["database_url"] = database_url
        return config

    def upgrade(self, database_url: str) -> None:
        """`alembic upgrade heads`: every branch (a package may branch off the base with its own tables).
        Safe to call from a thread running an event loop."""
        command.upgrade(self.config(database_url), "heads")

    def check(self, database_url: str) -> None:
        """Raise `alembic.util.AutogenerateDiffsDetected` if the models differ from the migrated schema."""
        command.check(self.config(database_url))
