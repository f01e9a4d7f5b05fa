"""users.timezone_source (whether the user's time zone was ever chosen); rules.text

rules.text: the bump text of the follow-ups a rule sets (a template like User.bump_template);
NULL means the user's default text, as before.

users.timezone_source:

"" (never: the UTC default of a new user), "browser" (taken from the browser on the first page
view after sign-in) or "you" (saved on Defaults). The settings page takes the browser's zone
only while it is "", so a zone the user picked is never overwritten. Users whose zone is not the
default already chose one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD/DROP COLUMN, not batch mode (see 0009: batch mode re-creates the users table).


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("timezone_source", sa.String(10), nullable=False, server_default=""),
    )
    op.execute("UPDATE users SET timezone_source = 'you' WHERE timezone <> 'UTC'")
    op.add_column("rules", sa.Column("text", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("rules", "text")
    op.drop_column("users", "timezone_source")
