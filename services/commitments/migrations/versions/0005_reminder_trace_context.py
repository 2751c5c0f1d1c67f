"""Reminder schedules keep the trace context of the request that dated their deadline.

- reminder_schedules: `trace_context` (JSON, the W3C `traceparent` and `tracestate`), NULL for the schedules
  armed before this migration and for those armed outside any request (a plan imported from the command line):
  their reminders start a trace of their own, as before.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reminder_schedules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trace_context", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reminder_schedules", schema=None) as batch_op:
        batch_op.drop_column("trace_context")
