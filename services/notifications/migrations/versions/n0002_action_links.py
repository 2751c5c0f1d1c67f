"""Action links: the ids of signed links already used (single use).

A branch off n0001 (the service upgrades to "heads"). Runs on SQLite and PostgreSQL.

Revision ID: n0002
Revises: n0001
Create Date: 2026-11-26 02:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "n0002"
down_revision: str | Sequence[str] | None = "n0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "action_link_uses",
        sa.Column("token_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_action_link_uses")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("action_link_uses")
