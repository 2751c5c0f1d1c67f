"""Deadline reminders: rules per plan, partner and item; one schedule per deadline; one row per reminder sent.

Every deadline still open gets an armed schedule, due at once: the scanner computes it at its next tick and
sends only the steps that come after the migration (never a burst for the past).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminder_rules",
        sa.Column("plan_id", sa.Uuid(), nullable=True),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_reminder_rules_item_id_items"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_reminder_rules_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_reminder_rules_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_rules")),
        sa.UniqueConstraint("item_id", name=op.f("uq_reminder_rules_item_id")),
        sa.UniqueConstraint("partner_id", name=op.f("uq_reminder_rules_partner_id")),
        sa.UniqueConstraint("plan_id", name=op.f("uq_reminder_rules_plan_id")),
    )
    op.create_table(
        "reminder_firings",
        sa.Column("reminder_key", sa.String(length=120), nullable=False),
        sa.Column("deadline_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("deadline_version", sa.Integer(), nullable=False),
        sa.Column("arming", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("escalation", sa.String(length=16), nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("skipped_steps", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deadline_id"],
            ["deadlines.id"],
            name=op.f("fk_reminder_firings_deadline_id_deadlines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_reminder_firings_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_firings")),
        sa.UniqueConstraint("reminder_key", name=op.f("uq_reminder_firings_reminder_key")),
    )
    with op.batch_alter_table("reminder_firings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_firings_deadline_id"), ["deadline_id"], unique=False)

    op.create_table(
        "reminder_schedules",
        sa.Column("deadline_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("deadline_version", sa.Integer(), nullable=False),
        sa.Column("arming", sa.Integer(), nullable=False),
        sa.Column("anchor_on", sa.Date(), nullable=True),
        sa.Column("armed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalation", sa.String(length=16), nullable=False),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["deadline_id"],
            ["deadlines.id"],
            name=op.f("fk_reminder_schedules_deadline_id_deadlines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_reminder_schedules_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("deadline_id", name=op.f("pk_reminder_schedules")),
    )
    with op.batch_alter_table("reminder_schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_schedules_item_id"), ["item_id"], unique=False)
        batch_op.create_index("ix_reminder_schedules_next_fire_at", ["next_fire_at"], unique=False)
    op.execute(
        "INSERT INTO reminder_schedules (deadline_id, item_id, deadline_version, arming, anchor_on, armed_at, "
        "handled_until, escalation, next_fire_at) "
        "SELECT id, item_id, version, 0, NULL, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'none', CURRENT_TIMESTAMP "
        "FROM deadlines WHERE met_on IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("reminder_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_schedules_next_fire_at")
        batch_op.drop_index(batch_op.f("ix_reminder_schedules_item_id"))

    op.drop_table("reminder_schedules")
    with op.batch_alter_table("reminder_firings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_firings_deadline_id"))

    op.drop_table("reminder_firings")
    op.drop_table("reminder_rules")
