"""Alembic environment of the notifications service (the shared one: shared/migrations.py).

The URL comes from, in order: `config.attributes["database_url"]` (set by `upgrade_database`),
`-x database_url=...` on the alembic command line, then the service settings (NOTIFICATIONS_DATABASE_URL).
Its own version table, so that pointing it at the commitments database by mistake cannot mix the histories.
"""

from __future__ import annotations

from services.notifications.config import NotificationsSettings
from services.notifications.models import Base
from shared.migrations import run_environment

run_environment(
    Base.metadata, lambda: NotificationsSettings().database_url, version_table="notifications_alembic_version"
)
