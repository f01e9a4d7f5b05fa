"""Send later: scheduled_sends (a draft to send at a time, unless they write first)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watcher.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    when = watcher.models.UTCDateTime
    op.create_table(
        "scheduled_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("draft_key", sa.String(length=998), nullable=False),
        sa.Column("draft_ref", sa.String(length=998), nullable=False),
        sa.Column("draft_seen_at", when(), nullable=False),
        sa.Column("tag_address", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("send_at", when(), nullable=False),
        sa.Column("scheduled_at", when(), nullable=False),
        sa.Column("unless_reply", sa.Boolean(), nullable=False),
        sa.Column("then_tag", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("sent_ref", sa.String(length=998), nullable=True),
        sa.Column("followup_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("waited_for_edit", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", when(), nullable=True),
        sa.Column("created_at", when(), nullable=False),
        sa.Column("updated_at", when(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["followup_id"], ["followups.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "draft_key"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_scheduled_sends_due", "scheduled_sends", ["account_id", "state", "send_at"])


def downgrade() -> None:
    op.drop_index("ix_scheduled_sends_due", table_name="scheduled_sends")
    op.drop_table("scheduled_sends")
