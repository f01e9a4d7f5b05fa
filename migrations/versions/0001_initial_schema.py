"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watcher.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("send_days", sa.String(length=40), nullable=False),
        sa.Column("send_hours", sa.String(length=20), nullable=False),
        sa.Column("holiday_country", sa.String(length=8), nullable=True),
        sa.Column("default_delay", sa.String(length=20), nullable=False),
        sa.Column("bump_template", sa.Text(), nullable=False),
        sa.Column("replier_policy", sa.String(length=20), nullable=False),
        sa.Column("own_message_policy", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("created_at", watcher.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_ok_at", watcher.models.UTCDateTime(), nullable=True),
        sa.Column("last_error_at", watcher.models.UTCDateTime(), nullable=True),
        sa.Column("next_check_at", watcher.models.UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", watcher.models.UTCDateTime(), nullable=True),
        sa.Column("created_at", watcher.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "email"),
    )
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("anchor_message_id", sa.String(length=998), nullable=False),
        sa.Column("anchor_at", watcher.models.UTCDateTime(), nullable=False),
        sa.Column("thread_ref", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("to_addrs", sa.JSON(), nullable=False),
        sa.Column("cc_addrs", sa.JSON(), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("current_stage", sa.Integer(), nullable=False),
        sa.Column("due_at", watcher.models.UTCDateTime(), nullable=True),
        sa.Column("clock_base_at", watcher.models.UTCDateTime(), nullable=False),
        sa.Column("needs_check", sa.Boolean(), nullable=False),
        sa.Column("replier_policy", sa.String(length=20), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", watcher.models.UTCDateTime(), nullable=True),
        sa.Column("created_at", watcher.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", watcher.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.create_index("ix_followups_account_state", ["account_id", "state"], unique=False)
        batch_op.create_index("ix_followups_due", ["state", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_followups_user_id"), ["user_id"], unique=False)

    op.create_table(
        "mailbox_cursors",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", watcher.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", watcher.models.UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("followup_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("rule", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["followup_id"], ["followups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_followup_id"), ["followup_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_user_id"), ["user_id"], unique=False)

    op.create_table(
        "stages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("followup_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("delay", sa.String(length=20), nullable=True),
        sa.Column("at", watcher.models.UTCDateTime(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("sent_ref", sa.String(length=300), nullable=True),
        sa.Column("done_at", watcher.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["followup_id"], ["followups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("followup_id", "position"),
    )
    op.create_table(
        "tracked_ids",
        sa.Column("followup_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.ForeignKeyConstraint(["followup_id"], ["followups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("followup_id", "message_id"),
    )
    with op.batch_alter_table("tracked_ids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracked_ids_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tracked_ids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracked_ids_message_id"))

    op.drop_table("tracked_ids")
    op.drop_table("stages")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_user_id"))
        batch_op.drop_index(batch_op.f("ix_events_followup_id"))

    op.drop_table("events")
    op.drop_table("mailbox_cursors")
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followups_user_id"))
        batch_op.drop_index("ix_followups_due")
        batch_op.drop_index("ix_followups_account_state")

    op.drop_table("followups")
    op.drop_table("accounts")
    op.drop_table("users")
