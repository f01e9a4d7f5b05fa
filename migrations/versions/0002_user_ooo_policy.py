"""users.ooo_policy: what an out-of-office reply does to a follow-up

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("ooo_policy", sa.String(length=20), nullable=False, server_default="pause")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("ooo_policy")
