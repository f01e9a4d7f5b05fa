"""users.session_generation: sign-out (and `user sign-out-everywhere`) ends every session

A session cookie carries the generation it was made in; a request whose generation is not the
user's current one is signed out, so a cookie copied before a sign-out stops working.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD/DROP COLUMN (SQLite 3.35+ has both), not batch mode: batch mode re-creates the users
# table, and dropping the old copy with foreign keys on would cascade to every user's rows.


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("users", "session_generation")
