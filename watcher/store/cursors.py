"""Mailbox cursors: where each account's changes were last read, moved compare-and-set."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ..models import Account, MailboxCursor
from .base import StoreBase


class StaleCursor(Exception):
    """Another watcher read the same changes first (only after a lease ran out)."""


class CursorQueries(StoreBase):
    def get_cursor(self, s: Session, account_id: int) -> str | None:
        row = s.get(MailboxCursor, account_id)
        return row.value if row else None

    def account_with_cursor(self, s: Session, account_id: int) -> tuple[Account, str | None]:
        """The account and its cursor in one statement (every check starts with both)."""
        row = s.execute(_account_with_cursor(), {"account_id": account_id}).one()
        return row[0], row[1]

    def set_cursor(
        self, s: Session, account_id: int, value: str, now: datetime, expected: str | None
    ) -> None:
        """Move the cursor from `expected` to `value`; StaleCursor if another watcher moved it
        first (then the caller's transaction, with the decisions it made, is rolled back)."""
        if expected is None:
            s.add(MailboxCursor(account_id=account_id, value=value, updated_at=now))
            s.flush()  # a concurrent first cursor surfaces here as an IntegrityError
            return
        result = s.execute(
            update(MailboxCursor)
            .where(MailboxCursor.account_id == account_id, MailboxCursor.value == expected)
            .values(value=value, updated_at=now)
        )
        if result.rowcount != 1:
            raise StaleCursor(f"the cursor of account {account_id} moved meanwhile")


@cache
def _account_with_cursor():
    return (
        select(Account, MailboxCursor.value)
        .outerjoin(MailboxCursor, MailboxCursor.account_id == Account.id)
        .where(Account.id == bindparam("account_id"))
    )
