"""Follow-ups: lookups and pages for the faces, the thread tracking the watcher judges by,
what is due or overdue, and deleting an account's follow-ups.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, or_, select, true, update
from sqlalchemy.orm import Session, selectinload

from ..errors import NotFoundError
from ..models import (
    Account,
    AccountStatus,
    Event,
    FollowUp,
    FollowUpState,
    Mode,
    Stage,
    StageState,
    TrackedId,
)
from .base import StoreBase
from .claims import unleased


class FollowUpQueries(StoreBase):
    def get_followup(self, s: Session, followup_id: int, user_id: int | None = None) -> FollowUp:
        query = (
            select(FollowUp)
            .where(FollowUp.id == followup_id)
            .options(selectinload(FollowUp.stages), selectinload(FollowUp.account))
        )
        if user_id is not None:
            query = query.where(FollowUp.user_id == user_id)
        followup = s.scalar(query)
        if followup is None:
            raise NotFoundError(f"no follow-up {followup_id}")
        return followup

    def list_followups(
        self, s: Session, user_id: int | None = None, states: Iterable[str] | None = None
    ) -> list[FollowUp]:
        query = select(FollowUp).options(selectinload(FollowUp.account)).order_by(FollowUp.id)
        if user_id is not None:
            query = query.where(FollowUp.user_id == user_id)
        if states:
            query = query.where(FollowUp.state.in_(list(states)))
        return list(s.scalars(query))

    def followups_page(
        self, s: Session, user_id: int, states: Iterable[str], offset: int, limit: int
    ) -> tuple[list[FollowUp], int]:
        """One page of a user's follow-ups, soonest due first, and how many there are in all."""
        where = (FollowUp.user_id == user_id, FollowUp.state.in_(list(states)))
        total = s.scalar(select(func.count()).select_from(FollowUp).where(*where)) or 0
        query = (
            select(FollowUp)
            .where(*where)
            .options(selectinload(FollowUp.stages))
            .order_by(FollowUp.due_at.is_(None), FollowUp.due_at, FollowUp.id)
            .offset(offset)
            .limit(limit)
        )
        return list(s.scalars(query)), total

    def followups_listing(
        self, s: Session, user_id: int, states: Iterable[str] | None, offset: int, limit: int
    ) -> list[FollowUp]:
        """One page of the settings list: scheduled ones soonest due first, then the ended
        ones most recently changed first. (The count per state is followup_counts.)"""
        query = select(FollowUp).where(FollowUp.user_id == user_id)
        if states is not None:
            query = query.where(FollowUp.state.in_(list(states)))
        query = (
            query.options(selectinload(FollowUp.account))
            .order_by(
                FollowUp.due_at.is_(None),
                FollowUp.due_at,
                FollowUp.updated_at.desc(),
                FollowUp.id.desc(),
            )
            .offset(offset)
            .limit(limit)
        )
        return list(s.scalars(query))

    def followups_in_thread(
        self, s: Session, account_id: int, thread_ref: str | None, anchor_message_id: str
    ) -> list[FollowUp]:
        """An account's follow-ups on this thread (or anchored on this message), newest first."""
        match = FollowUp.anchor_message_id == anchor_message_id
        if thread_ref:
            match = or_(match, FollowUp.thread_ref == thread_ref)
        query = (
            select(FollowUp)
            .where(FollowUp.account_id == account_id, match)
            .options(selectinload(FollowUp.stages))
            .order_by(FollowUp.id.desc())
            .limit(10)
        )
        return list(s.scalars(query))

    def active_followup_for_anchor(
        self, s: Session, account_id: int, anchor_message_id: str
    ) -> FollowUp | None:
        return s.scalar(
            select(FollowUp).where(
                FollowUp.account_id == account_id,
                FollowUp.anchor_message_id == anchor_message_id,
                FollowUp.state == FollowUpState.ACTIVE,
            )
        )

    def followups_by_anchor(
        self, s: Session, user_id: int, account_id: int, anchor_message_ids: Iterable[str]
    ) -> dict[str, FollowUp]:
        """The user's follow-ups on these sent messages (Message-ID -> the newest one): which of
        the recent sent mail the settings page marks as already followed."""
        ids = sorted({m for m in anchor_message_ids if m})
        found: dict[str, FollowUp] = {}
        if not ids:
            return found
        rows = s.scalars(
            select(FollowUp)
            .where(
                FollowUp.user_id == user_id,
                FollowUp.account_id == account_id,
                FollowUp.anchor_message_id.in_(ids),
            )
            .order_by(FollowUp.id)
        )
        for f in rows:
            found[f.anchor_message_id] = f  # the newest wins
        return found

    def track(self, s: Session, followup_id: int, message_ids: Iterable[str]) -> None:
        """Remember Message-IDs as part of (and already judged for) a follow-up's thread."""
        wanted = {m for m in message_ids if m}
        if not wanted:
            return
        known = set(
            s.scalars(
                select(TrackedId.message_id).where(
                    TrackedId.followup_id == followup_id, TrackedId.message_id.in_(wanted)
                )
            )
        )
        s.add_all(TrackedId(followup_id=followup_id, message_id=m) for m in wanted - known)
        s.flush()

    def tracked_ids(self, s: Session, followup_id: int) -> set[str]:
        return set(
            s.scalars(select(TrackedId.message_id).where(TrackedId.followup_id == followup_id))
        )

    def active_followups_linked(
        self, s: Session, account_id: int, message_ids: Iterable[str], thread_refs: Iterable[str]
    ) -> list[FollowUp]:
        """Active follow-ups of an account whose thread any of these ids or thread refs touch.

        An indexed lookup by the ids that changed: cost follows the change, not what is tracked.
        """
        ids = [m for m in set(message_ids) if m]
        refs = [r for r in set(thread_refs) if r]
        conditions = []
        if ids:
            conditions.append(
                FollowUp.id.in_(select(TrackedId.followup_id).where(TrackedId.message_id.in_(ids)))
            )
        if refs:
            conditions.append(FollowUp.thread_ref.in_(refs))
        if not conditions:
            return []
        return list(
            s.scalars(
                select(FollowUp)
                .where(
                    FollowUp.account_id == account_id,
                    FollowUp.state == FollowUpState.ACTIVE,
                    or_(*conditions),
                )
                .options(selectinload(FollowUp.stages))
                .order_by(FollowUp.id)
            )
        )

    def followups_needing_check(self, s: Session, account_id: int, limit: int) -> list[FollowUp]:
        return list(
            s.scalars(
                select(FollowUp)
                .where(*needing_check(account_id))
                .order_by(FollowUp.id)
                .limit(limit)
            )
        )

    def flag_all_for_check(self, s: Session, account_id: int) -> int:
        result = s.execute(
            update(FollowUp)
            .where(FollowUp.account_id == account_id, FollowUp.state == FollowUpState.ACTIVE)
            .values(needs_check=True)
        )
        return result.rowcount

    def overdue_followups(
        self, s: Session, account_id: int, before: datetime, now: datetime
    ) -> list[FollowUp]:
        return list(
            s.scalars(
                select(FollowUp)
                .where(*overdue(account_id, before, now))
                .order_by(FollowUp.due_at, FollowUp.id)
            )
        )

    def sends_since(self, s: Session, account_id: int, since: datetime) -> list[datetime]:
        """When this account's bumps recorded as sent at or after `since` went out, oldest first."""
        return list(
            s.scalars(
                select(Stage.done_at)
                .join(FollowUp, Stage.followup_id == FollowUp.id)
                .where(
                    FollowUp.account_id == account_id,
                    Stage.state == StageState.SENT,
                    Stage.done_at >= since,
                )
                .order_by(Stage.done_at)
            )
        )

    def due_sends(self, s: Session, account_id: int, now: datetime) -> list[FollowUp]:
        """Unclaimed follow-ups of the account whose bump (send mode) is due now."""
        return list(
            s.scalars(
                select(FollowUp)
                .where(
                    FollowUp.account_id == account_id,
                    FollowUp.state == FollowUpState.ACTIVE,
                    FollowUp.mode == Mode.SEND,
                    FollowUp.due_at <= now,
                    unleased(FollowUp, now),
                )
                .order_by(FollowUp.due_at, FollowUp.id)
            )
        )

    def delete_followups_of_account(self, s: Session, account_id: int, user_id: int) -> int:
        """Delete an account's follow-ups with their stages and history (user's choice)."""
        ids = select(FollowUp.id).where(
            FollowUp.account_id == account_id, FollowUp.user_id == user_id
        )
        s.execute(delete(TrackedId).where(TrackedId.followup_id.in_(ids)))
        s.execute(delete(Event).where(Event.followup_id.in_(ids)))
        s.execute(delete(Stage).where(Stage.followup_id.in_(ids)))
        result = s.execute(
            delete(FollowUp).where(FollowUp.account_id == account_id, FollowUp.user_id == user_id)
        )
        return result.rowcount

    def followups_needing_attention(self, s: Session, user_id: int) -> list[FollowUp]:
        """Scheduled follow-ups that cannot go ahead: their account needs a person or is
        disconnected, or a bump's hand-over was never confirmed."""
        unconfirmed = select(Stage.followup_id).where(Stage.state == StageState.UNCONFIRMED)
        query = (
            select(FollowUp)
            .join(Account, FollowUp.account_id == Account.id)
            .options(selectinload(FollowUp.account))
            .where(
                FollowUp.user_id == user_id,
                or_(
                    (FollowUp.state == FollowUpState.ACTIVE)
                    & Account.status.in_([AccountStatus.NEEDS_ATTENTION, AccountStatus.DISABLED]),
                    FollowUp.id.in_(unconfirmed),
                ),
            )
            .order_by(FollowUp.id)
        )
        return list(s.scalars(query))

    def followup_counts(self, s: Session, user_id: int) -> dict[int, dict[str, int]]:
        """account id -> state -> how many of the user's follow-ups (one grouped query)."""
        rows = s.execute(
            select(FollowUp.account_id, FollowUp.state, func.count())
            .where(FollowUp.user_id == user_id)
            .group_by(FollowUp.account_id, FollowUp.state)
        ).all()
        out: dict[int, dict[str, int]] = {}
        for account_id, state, count in rows:
            out.setdefault(account_id, {})[state] = count
        return out


def needing_check(account_id: int) -> tuple:
    """An active follow-up whose thread must be read again (followups_needing_check)."""
    return (
        FollowUp.account_id == account_id,
        FollowUp.state == FollowUpState.ACTIVE,
        FollowUp.needs_check == true(),  # "= true", not "IS": index-usable
    )


def overdue(account_id: int, before: datetime, now: datetime) -> tuple:
    """An active follow-up due before `before` and leased by nobody (overdue_followups)."""
    return (
        FollowUp.account_id == account_id,
        FollowUp.state == FollowUpState.ACTIVE,
        FollowUp.due_at < before,
        unleased(FollowUp, now),
    )
