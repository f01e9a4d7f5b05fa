"""Recipients' zones: each correspondent's time zone, inferred from Date headers or set by the
user, and the follow-ups that keep the recipient's working hours.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, true, union
from sqlalchemy.orm import Session

from ..errors import NotFoundError
from ..models import Account, FollowUp, FollowUpState, RecipientZone, User
from ..recipient_zone import MAX_OBSERVATIONS, infer_zone
from .base import StoreBase


class RecipientQueries(StoreBase):
    def recipient_zone(self, s: Session, user_id: int, address: str) -> RecipientZone | None:
        return s.scalar(
            select(RecipientZone).where(
                RecipientZone.user_id == user_id, RecipientZone.address == address.lower()
            )
        )

    def recipient_zones(
        self,
        s: Session,
        user_id: int,
        *,
        search: str = "",
        offset: int = 0,
        limit: int | None = None,
    ) -> list[RecipientZone]:
        """A user's correspondents by address; `search` keeps addresses containing it."""
        query = select(RecipientZone).where(*_recipients_of(user_id, search))
        query = query.order_by(RecipientZone.address).offset(offset)
        return list(s.scalars(query if limit is None else query.limit(limit)))

    def count_recipient_zones(self, s: Session, user_id: int, search: str = "") -> int:
        query = select(func.count()).select_from(RecipientZone)
        return s.scalar(query.where(*_recipients_of(user_id, search))) or 0

    def observe_offset(
        self, s: Session, user_id: int, address: str, at: datetime, offset_minutes: int
    ) -> RecipientZone:
        """Remember one Date header's offset for `address` and infer its zone again."""
        row = self.recipient_zone(s, user_id, address)
        if row is None:
            row = RecipientZone(user_id=user_id, address=address.lower(), observations=[])
            s.add(row)
        entry = [at.astimezone(UTC).isoformat(), int(offset_minutes)]
        seen = [list(o) for o in (row.observations or []) if list(o) != entry]
        seen = sorted([*seen, entry])[-MAX_OBSERVATIONS:]
        row.observations = seen  # a new list, so the JSON column is marked changed
        row.inferred_zone = infer_zone((datetime.fromisoformat(t), m) for t, m in seen)
        row.updated_at = at if row.updated_at is None or at > row.updated_at else row.updated_at
        return row

    def recipient_zone_by_id(self, s: Session, user_id: int, row_id: int) -> RecipientZone:
        """One of the user's correspondents by id; another user's is not found."""
        row = s.scalar(
            select(RecipientZone).where(
                RecipientZone.id == row_id, RecipientZone.user_id == user_id
            )
        )
        if row is None:
            raise NotFoundError(f"no correspondent {row_id}")
        return row

    def followups_in_recipient_hours(
        self, s: Session, account_id: int, now: datetime | None = None
    ) -> list[FollowUp]:
        """Active follow-ups of the account whose owner keeps the recipient's working hours;
        with `now`, only those about to be planned: new (needs_check) or due by `now`."""
        # Asked every pass: the owner's mode first (one row), then two index-backed lookups.
        mode = s.scalar(
            select(User.window_mode)
            .join(Account, Account.user_id == User.id)
            .where(Account.id == account_id)
        )
        if mode != "recipient":
            return []
        mine = select(FollowUp.id).where(
            FollowUp.account_id == account_id, FollowUp.state == FollowUpState.ACTIVE
        )
        if now is not None:
            mine = union(
                mine.where(FollowUp.needs_check == true()), mine.where(FollowUp.due_at <= now)
            )
        return list(s.scalars(select(FollowUp).where(FollowUp.id.in_(mine)).order_by(FollowUp.id)))

    def mark_zone_scanned(
        self, s: Session, user_id: int, address: str, now: datetime
    ) -> RecipientZone:
        """Remember that `address`'s own mail was just read for their zone."""
        row = self.recipient_zone(s, user_id, address)
        if row is None:
            row = RecipientZone(
                user_id=user_id, address=address.lower(), observations=[], updated_at=now
            )
            s.add(row)
        row.scanned_at = now
        return row

    def set_recipient_zone(
        self, s: Session, user_id: int, address: str, zone: str | None, now: datetime
    ) -> RecipientZone:
        """The user's own answer (None: back to what the Date headers say)."""
        row = self.recipient_zone(s, user_id, address)
        if row is None:
            row = RecipientZone(user_id=user_id, address=address.lower(), observations=[])
            s.add(row)
        row.override_zone = zone
        row.updated_at = now
        return row


def _recipients_of(user_id: int, search: str) -> list:
    """The filter of a user's correspondents, by part of the address (LIKE signs literal)."""
    where = [RecipientZone.user_id == user_id]
    if search:
        where.append(RecipientZone.address.contains(search.lower(), autoescape=True))
    return where
