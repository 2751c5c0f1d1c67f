"""Deliveries and webhook deliveries keep the trace context they were written under, so that their send, later
and maybe in another process, carries on the same trace.

- deliveries.trace_context, webhook_deliveries.trace_context: JSON (the W3C `traceparent` and `tracestate`),
  NULL for the rows written before this migration or outside any trace: their sends start a trace of their own.

A branch off n0003 (the service upgrades to "heads"), which created webhook_deliveries. Runs on SQLite (batch
mode) and PostgreSQL.

Revision ID: n0006
Revises: n0003
Create Date: 2026-12-07 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "n0006"
down_revision: str | Sequence[str] | None = "n0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trace_context", sa.JSON(), nullable=True))
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trace_context", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_column("trace_context")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("trace_context")
