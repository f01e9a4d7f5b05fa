"""recipient_zones (learnt and overridden zones per correspondent) and users.window_mode

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watcher.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("window_mode", sa.String(length=20), server_default="mine", nullable=False)
        )
    op.create_table(
        "recipient_zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("observations", sa.JSON(), nullable=False),
        sa.Column("inferred_zone", sa.String(length=64), nullable=True),
        sa.Column("override_zone", sa.String(length=64), nullable=True),
        sa.Column("updated_at", watcher.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "address"),
    )


def downgrade() -> None:
    op.drop_table("recipient_zones")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("window_mode")
