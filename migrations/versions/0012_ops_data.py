"""Stages remember when they were handed to the server and what evidence of delivery applies.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from watcher.models import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN, not batch mode: batch mode re-creates the table, and dropping the old
# copy with foreign keys on would cascade (see 0009).


def upgrade() -> None:
    op.add_column("stages", sa.Column("handed_over_at", UTCDateTime(), nullable=True))
    op.add_column("stages", sa.Column("evidence", sa.String(length=10), nullable=True))


def downgrade() -> None:
    op.drop_column("stages", "evidence")
    op.drop_column("stages", "handed_over_at")
