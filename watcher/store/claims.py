"""Claims: leasing accounts and due follow-ups to one watcher, renewing and releasing leases.

A claim is one statement: `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING
id` on PostgreSQL; SQLite serializes writers with BEGIN IMMEDIATE. An expired lease is how a
crashed watcher's work is recovered.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Integer, Text, and_, bindparam, cast, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..models import Account, AccountStatus, FollowUp, FollowUpState
from .base import StoreBase


class ClaimQueries(StoreBase):
    def claim_account(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        exclude: Iterable[int] = (),
        prefer: Iterable[int] = (),
        only: Iterable[int] | None = None,
    ) -> int | None:
        """Lease one account that is due for a check (not disabled, not backing off);
        accounts in `prefer` (woken by a push) come first; with `only`, none but those."""
        prefer = [int(i) for i in prefer]
        order = [Account.id.in_(prefer).desc(), Account.id] if prefer else [Account.id]
        sub = (
            select(Account.id)
            .where(
                Account.status != AccountStatus.DISABLED,
                or_(Account.next_check_at.is_(None), Account.next_check_at <= now),
                unleased(Account, now),
            )
            .order_by(*order)
            .limit(1)
        )
        exclude = list(exclude)
        if exclude:
            sub = sub.where(Account.id.not_in(exclude))
        if only is not None:
            sub = sub.where(Account.id.in_([int(i) for i in only]))
        stmt = self.lease_statement(Account, sub, owner, now + lease)
        with self.session() as s:
            return s.scalar(stmt)

    def claim_accounts(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        *,
        fresh_for: timedelta,
        push_fresh_for: timedelta | None = None,
        woken: Iterable[int] = (),
        only: Iterable[int] | None = None,
        kept: Iterable[int] = (),
        late_before: datetime | None = None,
    ) -> list[int]:
        """The loop's claim: lease up to `limit` accounts in one statement, skipping those
        that any watcher checked successfully within `fresh_for` (so several watchers share
        the polling instead of each serving every account). A Gmail account whose push watch
        is alive counts as fresh for `push_fresh_for` (push-first polling; None: off).
        Accounts in `woken` (push, IDLE, NOTIFY) are due whatever their freshness, and come
        first; with `only`, none but those. Backing off (next_check_at) and leases are
        respected as in claim_account. No exclusion list: a served account is fresh (or
        backing off) when released, so the same pass does not take it again.

        `kept` (PostgreSQL): accounts whose IMAP session this watcher keeps come before the
        others, so with several watchers each goes on checking the same accounts without a
        new login; but an account not checked since `late_before` (or never) beats them all
        but the woken, so no account waits behind another watcher's affinity."""
        woken = [int(i) for i in woken]
        stale = or_(Account.last_ok_at.is_(None), Account.last_ok_at <= now - fresh_for)
        if push_fresh_for is not None:
            push_alive = and_(
                Account.kind == "gmail",
                Account.watch_expires_at.is_not(None),
                Account.watch_expires_at > now,
            )
            stale = or_(
                Account.last_ok_at.is_(None),
                and_(push_alive, Account.last_ok_at <= now - push_fresh_for),
                and_(~push_alive, Account.last_ok_at <= now - fresh_for),
            )
        if woken:
            stale = or_(Account.id.in_(woken), stale)
        # Least recently checked first: ordered by id alone, the first accounts fall due again
        # (fresh_for is under an interval) before a pass reaches the last ones, and a watcher
        # killed or restarted often never gets to them.
        by_age = [Account.last_ok_at.asc().nulls_first(), Account.id]
        kept = [int(i) for i in kept] if self.is_postgres else []
        if kept:  # one array parameter, however many sessions are kept
            late = or_(Account.last_ok_at.is_(None), Account.last_ok_at < (late_before or now))
            # Sent as the array's text form: the driver's list adapter cost 0.4 ms of CPU per
            # claim at 1,000 ids, the join a fifth of that.
            literal = "{" + ",".join(map(str, kept)) + "}"
            # IN (SELECT unnest(...)), not = ANY(...): PostgreSQL hashes the ids once, where ANY
            # went through the array for every row (bench/claim_cost.py at 3,000 accounts and
            # 2,000 kept sessions: 500 ms a claim with ANY, 12.5 ms with IN).
            kept_ids = select(
                func.unnest(cast(bindparam("kept", literal, type_=Text), ARRAY(Integer)))
            )
            ours = Account.id.in_(kept_ids.scalar_subquery())
            # The kept go first only among accounts not late; the late go oldest first (never
            # checked first): a watcher that cannot keep up would otherwise serve only the
            # accounts whose sessions it keeps, which fall due again and again.
            by_age = [late.desc(), and_(~late, ours).desc(), *by_age]
        order = [Account.id.in_(woken).desc(), *by_age] if woken else by_age
        sub = (
            select(Account.id)
            .where(
                Account.status != AccountStatus.DISABLED,
                or_(Account.next_check_at.is_(None), Account.next_check_at <= now),
                unleased(Account, now),
                stale,
            )
            .order_by(*order)
            .limit(limit)
        )
        if only is not None:
            sub = sub.where(Account.id.in_([int(i) for i in only]))
        stmt = self.lease_statement(Account, sub, owner, now + lease)
        with self.session() as s:
            ids = list(s.scalars(stmt))
        first = set(woken)
        return sorted(ids, key=lambda i: (i not in first, i))

    def renew_lease(self, model, row_id: int, owner: str, until: datetime) -> bool:
        """Extend a lease we still hold; False if another watcher has taken it."""
        with self.session() as s:
            result = s.execute(
                update(model)
                .where(model.id == row_id, model.lease_owner == owner)
                .values(lease_until=until)
            )
            return result.rowcount == 1

    def release_account(self, account_id: int, owner: str) -> None:
        self.release_lease(Account, account_id, owner)

    def claim_due(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        account_id: int | None = None,
    ) -> list[int]:
        """Lease up to `limit` due follow-ups in one statement; returns their ids, oldest first."""
        sub = (
            select(FollowUp.id)
            .where(*due_followup(now))
            .order_by(FollowUp.due_at, FollowUp.id)
            .limit(limit)
        )
        if account_id is not None:
            sub = sub.where(FollowUp.account_id == account_id)
        stmt = self.lease_statement(FollowUp, sub, owner, now + lease, FollowUp.id, FollowUp.due_at)
        with self.session() as s:
            rows = s.execute(stmt).all()
        return [row.id for row in sorted(rows, key=lambda r: (r.due_at, r.id))]

    def holds_lease(self, s: Session, followup: FollowUp, owner: str, now: datetime) -> bool:
        return lease_held(followup, owner, now)

    def release_followup(self, followup_id: int, owner: str) -> None:
        self.release_lease(FollowUp, followup_id, owner)

    def lease_statement(self, model, sub, owner: str, until: datetime, *returning):
        """The one-statement claim: lease the rows `sub` selects (skipping rows another
        transaction has locked, on PostgreSQL), returning `returning` (default: the ids)."""
        if self.is_postgres:
            sub = sub.with_for_update(skip_locked=True)
        return (
            update(model)
            .where(model.id.in_(sub.scalar_subquery()))
            .values(lease_owner=owner, lease_until=until)
            .returning(*(returning or (model.id,)))
        )

    def release_lease(self, model, row_id: int, owner: str) -> None:
        """Give up a lease we hold (a lease another watcher took meanwhile stays theirs)."""
        with self.session() as s:
            s.execute(
                update(model)
                .where(model.id == row_id, model.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )


def due_followup(now: datetime) -> tuple:
    """The conditions of a follow-up that is due now and leased by nobody (claim_due's)."""
    return (
        FollowUp.state == FollowUpState.ACTIVE,
        FollowUp.due_at <= now,
        unleased(FollowUp, now),
    )


def unleased(model, now: datetime):
    """The condition "no watcher holds this row's lease" (never taken, or run out)."""
    return or_(model.lease_until.is_(None), model.lease_until < now)


def lease_held(row, owner: str, now: datetime) -> bool:
    """This watcher holds the row's lease and it has not run out."""
    return row.lease_owner == owner and row.lease_until is not None and row.lease_until > now
