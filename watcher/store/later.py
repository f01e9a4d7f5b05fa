"""The queries of send later (watcher.later): every one by name, scoped to an account or user.

Functions taking a Store or a session (callers import it as `store_later`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..later.model import OPEN_STATES, SCHEDULED, ScheduledSend
from ..models import Account
from .claims import lease_held, unleased


def by_draft_key(s: Session, account_id: int, draft_key: str) -> ScheduledSend | None:
    return s.scalar(
        select(ScheduledSend).where(
            ScheduledSend.account_id == account_id, ScheduledSend.draft_key == draft_key
        )
    )


def claim_due(
    store, owner: str, now: datetime, lease: timedelta, account_id: int
) -> ScheduledSend | None:
    """Lease one due scheduled send of the account (or one whose sending a crash cut short, or
    whose draft is still to delete) in one statement; its id, or None."""
    sub = (
        select(ScheduledSend.id)
        .where(*due(account_id, now))
        .order_by(ScheduledSend.send_at, ScheduledSend.id)
        .limit(1)
    )
    with store.session() as s:
        return s.scalar(store.lease_statement(ScheduledSend, sub, owner, now + lease))


def due(account_id: int, now: datetime) -> tuple:
    """A scheduled send of the account to act on now, leased by nobody (claim_due's)."""
    return (
        ScheduledSend.account_id == account_id,
        ScheduledSend.state.in_(OPEN_STATES),
        ScheduledSend.send_at <= now,
        unleased(ScheduledSend, now),
    )


def holds_lease(row: ScheduledSend, owner: str, now: datetime) -> bool:
    return lease_held(row, owner, now)


def release(store, row_id: int, owner: str) -> None:
    store.release_lease(ScheduledSend, row_id, owner)


def for_user(s: Session, user_id: int, *, include_ended: bool = False) -> list[ScheduledSend]:
    """The user's scheduled sends, soonest first; the ended ones too if asked."""
    query = select(ScheduledSend).where(ScheduledSend.user_id == user_id)
    if not include_ended:
        query = query.where(ScheduledSend.state.in_(OPEN_STATES))
    return list(s.scalars(query.order_by(ScheduledSend.send_at, ScheduledSend.id)))


def of_user(s: Session, user_id: int, send_id: int) -> ScheduledSend | None:
    """One scheduled send, only if it is this user's."""
    row = s.get(ScheduledSend, send_id)
    return row if row is not None and row.user_id == user_id else None


def waiting(s: Session, account_id: int) -> list[ScheduledSend]:
    """The account's sends that are still only scheduled."""
    return list(
        s.scalars(
            select(ScheduledSend).where(
                ScheduledSend.account_id == account_id, ScheduledSend.state == SCHEDULED
            )
        )
    )


def account_of(s: Session, row: ScheduledSend) -> Account:
    return s.get(Account, row.account_id)
