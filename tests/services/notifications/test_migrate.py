"""The notifications migrations (every head: n0001 and the branches off it) build the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic import command

from services.notifications.migrate import alembic_config, check_database, upgrade_database


def test_migrated_schema_matches_the_models(notifications_database_url: str) -> None:
    check_database(notifications_database_url)


def test_downgrade_to_nothing_then_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'notifications.db'}"
    upgrade_database(url)
    command.downgrade(alembic_config(url), "base")
    upgrade_database(url)
    check_database(url)
