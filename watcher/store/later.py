"""The queries of send later (watcher.later): every one by name, scoped to an account or user.

Functions taking a Store or a session (callers import it as `store_later`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..later.model import OPEN_STATES, SCHEDULED, ScheduledSend
from ..models import Account


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
        .where(
            ScheduledSend.account_id == account_id,
            ScheduledSend.state.in_(OPEN_STATES),
            ScheduledSend.send_at <= now,
            or_(ScheduledSend.lease_until.is_(None), ScheduledSend.lease_until < now),
        )
        .order_by(ScheduledSend.send_at, ScheduledSend.id)
        .limit(1)
    )
    if store.is_postgres:
        sub = sub.with_for_update(skip_locked=True)
    stmt = (
        update(ScheduledSend)
        .where(ScheduledSend.id.in_(sub.scalar_subquery()))
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(ScheduledSend.id)
    )
    with store.session() as s:
        return s.scalar(stmt)


def holds_lease(row: ScheduledSend, owner: str, now: datetime) -> bool:
    return row.lease_owner == owner and row.lease_until is not None and row.lease_until > now


def release(store, row_id: int, owner: str) -> None:
    with store.session() as s:
        s.execute(
            update(ScheduledSend)
            .where(ScheduledSend.id == row_id, ScheduledSend.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


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
