"""An Idempotency-Key in progress holds a lease: a retry after it takes the key over.

- idempotency_records: `locked_until` (the end of the lease of the request in progress, NULL once answered;
  NULL too for the records written before this migration, whose lease then ends IDEMPOTENCY_LEASE_SECONDS
  after `created_at`, so that a key a killed replica left « in progress » is freed) and `attempt` (1, then
  one more per takeover: only the holder of the current attempt records the answer).
- an index on `created_at`, by which the scanner purges the records past their retention.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempt", sa.Integer(), server_default="1", nullable=False))
        batch_op.create_index(batch_op.f("ix_idempotency_records_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_records_created_at"))
        batch_op.drop_column("attempt")
        batch_op.drop_column("locked_until")
