"""recipient_zones.scanned_at: when a correspondent's own mail was last read for their zone

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import watcher.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recipient_zones") as batch:
        batch.add_column(sa.Column("scanned_at", watcher.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recipient_zones") as batch:
        batch.drop_column("scanned_at")
