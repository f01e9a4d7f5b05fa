"""Triggers, rules and results: rules, trigger_items, accounts.trigger_folders,
followups.origin/replied_at, stages.draft_ref

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watcher.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("trigger_folders", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("followups") as batch:
        batch.add_column(
            sa.Column("origin", sa.String(length=300), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("replied_at", watcher.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table("stages") as batch:
        batch.add_column(sa.Column("draft_ref", sa.String(length=300), nullable=True))
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("delays", sa.JSON(), nullable=False),
        sa.Column("external_only", sa.Boolean(), nullable=False),
        sa.Column("question_only", sa.Boolean(), nullable=False),
        sa.Column("exclude_domains", sa.JSON(), nullable=False),
        sa.Column("exclude_addresses", sa.JSON(), nullable=False),
        sa.Column("exclude_subjects", sa.JSON(), nullable=False),
        sa.Column("created_at", watcher.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", watcher.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rules_user_id", "rules", ["user_id"])
    op.create_table(
        "trigger_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=998), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("spec", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("refs", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("followup_id", sa.Integer(), nullable=True),
        sa.Column("created_at", watcher.models.UTCDateTime(), nullable=False),
        sa.Column("done_at", watcher.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["followup_id"], ["followups.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "key"),
    )
    op.create_index("ix_trigger_items_pending", "trigger_items", ["account_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_trigger_items_pending", table_name="trigger_items")
    op.drop_table("trigger_items")
    op.drop_index("ix_rules_user_id", table_name="rules")
    op.drop_table("rules")
    with op.batch_alter_table("stages") as batch:
        batch.drop_column("draft_ref")
    with op.batch_alter_table("followups") as batch:
        batch.drop_column("replied_at")
        batch.drop_column("origin")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("trigger_folders")
