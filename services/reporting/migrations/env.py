"""Alembic environment of the reporting service (the shared one: shared/migrations.py).

The URL comes from, in order: `config.attributes["database_url"]` (set by `upgrade_database`),
`-x database_url=...` on the alembic command line, then the service settings (REPORTING_DATABASE_URL).
Its own version table, so that pointing it at another service's database by mistake cannot mix the histories.
"""

from __future__ import annotations

from services.reporting.config import ReportingSettings
from services.reporting.models import Base
from shared.migrations import run_environment

run_environment(
    Base.metadata, lambda: ReportingSettings().database_url, version_table="reporting_alembic_version"
)
