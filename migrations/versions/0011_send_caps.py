"""Daily send caps: accounts.daily_send_cap and send_records (what the cap counts)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watcher.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD/DROP COLUMN, not batch mode (see 0009): batch mode re-creates the accounts table,
# and dropping the old copy with foreign keys on would cascade to every account's rows.


def upgrade() -> None:
    op.add_column("accounts", sa.Column("daily_send_cap", sa.Integer(), nullable=True))
    op.create_table(
        "send_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", watcher.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "message_id"),
    )
    op.create_index("ix_send_records_account_at", "send_records", ["account_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_send_records_account_at", table_name="send_records")
    op.drop_table("send_records")
    op.drop_column("accounts", "daily_send_cap")
