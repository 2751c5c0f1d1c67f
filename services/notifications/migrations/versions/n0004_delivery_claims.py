"""Delivery claims held by a named sender worker: who holds a row and under which generation of that worker,
so that a worker restarted after a crash takes back its own claims at once instead of waiting for the lease.

A branch off n0001 (the service upgrades to "heads"). Runs on SQLite (batch mode) and PostgreSQL.

Revision ID: n0004
Revises: n0001
Create Date: 2026-12-02 00:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "n0004"
down_revision: str | Sequence[str] | None = "n0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "sender_workers",
        sa.Column("worker_id", sa.String(length=200), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_sender_workers")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("claim_generation", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_deliveries_claimed_by"), ["claimed_by"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_claimed_by"))
        batch_op.drop_column("claim_generation")
        batch_op.drop_column("claimed_by")
    op.drop_table("sender_workers")
