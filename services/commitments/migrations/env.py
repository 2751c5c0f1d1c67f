"""Alembic environment of the commitments service (the shared one: shared/migrations.py).

The URL comes from, in order: `config.attributes["database_url"]` (set by `upgrade_database`),
`-x database_url=...` on the alembic command line, then the service settings (DATABASE_URL).
"""

from __future__ import annotations

from services.commitments.config import CommitmentsSettings
from services.commitments.models import Base
from shared.migrations import run_environment

run_environment(Base.metadata, lambda: CommitmentsSettings().database_url)
