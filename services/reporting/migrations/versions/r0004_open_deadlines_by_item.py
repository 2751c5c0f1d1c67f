"""The open dates of each item, by date: a partial index on deadlines (item_id, due_on) of the dates neither met
nor removed. A partner's lateness in the scorecard read every open deadline of the table without it (a hash
join over 150,000 rows per request with 100,000 items); it now reads a few index entries per item.

Runs on SQLite and PostgreSQL.

Revision ID: r0004
Revises: r0003
Create Date: 2026-12-07 19:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "r0004"
down_revision: str | Sequence[str] | None = "r0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deadlines_open_item",
            ["item_id", "due_on"],
            unique=False,
            postgresql_where=sa.text("met_on IS NULL AND removed IS false"),
            sqlite_where=sa.text("met_on IS NULL AND removed IS 0"),
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.drop_index("ix_deadlines_open_item")
