"""Bring the reporting database to the latest schema with Alembic, from code (CLI, embedded run, tests)."""

from pathlib import Path

from shared.migrations import ServiceMigrations

MIGRATIONS = ServiceMigrations(Path(__file__).with_name("alembic.ini"))
alembic_config = MIGRATIONS.config
upgrade_database = MIGRATIONS.upgrade
check_database = MIGRATIONS.check
