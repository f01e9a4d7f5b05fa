"""Users and the sign-in limits: who signs in, and their failed attempts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..models import LoginAttempt, User
from .base import StoreBase


class UserQueries(StoreBase):
    def get_or_create_user(self, s: Session, email: str) -> User:
        email = email.strip().lower()
        user = s.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email)
            s.add(user)
            s.flush()
        return user

    def get_user(self, s: Session, user_id: int) -> User | None:
        return s.get(User, user_id)

    def user_by_email(self, s: Session, email: str) -> User | None:
        return s.scalar(select(User).where(User.email == email.strip().lower()))

    def user_by_google_sub(self, s: Session, sub: str) -> User | None:
        return s.scalar(select(User).where(User.google_sub == sub))

    def has_password_users(self, s: Session) -> bool:
        """True once a first-run local user exists (then first-run setup is closed)."""
        query = select(User.id).where(User.password_hash.is_not(None)).limit(1)
        return s.scalar(query) is not None

    def record_login_failure(self, s: Session, keys: Iterable[str], now: datetime) -> None:
        s.add_all(LoginAttempt(key=k, at=now) for k in keys)

    def login_failures(self, s: Session, key: str, since: datetime) -> int:
        """Failed sign-ins under `key` since then (old rows are pruned on the way)."""
        _prune_login_attempts(s, since)
        query = select(func.count()).where(LoginAttempt.key == key, LoginAttempt.at >= since)
        return s.scalar(query.select_from(LoginAttempt)) or 0

    def login_failure_stats(
        self, s: Session, key: str, since: datetime
    ) -> tuple[int, datetime | None]:
        """(how many, the latest) failed attempts under `key` since then (old rows pruned)."""
        _prune_login_attempts(s, since)
        query = select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.key == key, LoginAttempt.at >= since
        )
        count, latest = s.execute(query).one()
        if isinstance(latest, str):  # SQLite's max() hands back the stored text
            latest = datetime.fromisoformat(latest).replace(tzinfo=UTC)
        elif latest is not None and latest.tzinfo is None:
            latest = latest.replace(tzinfo=UTC)
        return count or 0, latest

    def has_users(self, s: Session) -> bool:
        return s.scalar(select(User.id).limit(1)) is not None

    def clear_login_failures(self, s: Session, keys: Iterable[str]) -> None:
        s.execute(delete(LoginAttempt).where(LoginAttempt.key.in_(list(keys))))


def _prune_login_attempts(s: Session, since: datetime) -> None:
    """Forget attempts well before any window still asked about (a day of slack)."""
    s.execute(delete(LoginAttempt).where(LoginAttempt.at < since - timedelta(days=1)))
