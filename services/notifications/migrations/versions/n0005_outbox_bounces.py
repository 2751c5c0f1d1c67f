"""The service's own events: an outbox table (what happened to each reminder, action links used), and what a
bounce needs on deliveries (bounced_at; Message-ID indexed, a bounce names the message it returns by it).

A branch off n0001 (the service upgrades to "heads"). Runs on SQLite (batch mode) and PostgreSQL.

Revision ID: n0005_outbox_bounces
Revises: n0001
Create Date: 2026-12-07 16:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "n0005_outbox_bounces"
down_revision: str | Sequence[str] | None = "n0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "notifications_outbox",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=80), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_notifications_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_notifications_outbox_event_id")),
    )
    with op.batch_alter_table("notifications_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_outbox_unpublished", ["published_at", "position"], unique=False
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_deliveries_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_message_id"))
        batch_op.drop_column("bounced_at")
    with op.batch_alter_table("notifications_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_outbox_unpublished")
    op.drop_table("notifications_outbox")
