"""Indexes for queries every pass runs: follow-ups needing a check, the last minute's sends

Without them both scan every follow-up (stage) of the account: 3 ms each at 10,000
follow-ups on SQLite, which made an idle pass's wall time grow with the number tracked.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_followups_check", "followups", ["account_id", "state", "needs_check"], unique=False
    )
    op.create_index("ix_stages_state_done", "stages", ["state", "done_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_stages_state_done", table_name="stages")
    op.drop_index("ix_followups_check", table_name="followups")
