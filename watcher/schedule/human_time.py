"""The recipient's working hours, a common instant of two windows, and a stable jitter, so a
bump lands when a person would plausibly write."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta

from .windows import SendingWindow, next_in_window
from .zones import _require_aware

WORKING_DAYS = frozenset({0, 1, 2, 3, 4})
WORKING_START, WORKING_END = time(9, 0), time(17, 0)
MEET_HORIZON = timedelta(days=14)  # how far ahead two windows are searched for a common instant


def working_hours(tz: str, holiday_country: str | None = None) -> SendingWindow:
    """A person's working hours where they live: Mon-Fri 09:00-17:00 in zone `tz`."""
    return SendingWindow(
        tz=tz,
        days=WORKING_DAYS,
        start=WORKING_START,
        end=WORKING_END,
        holiday_country=holiday_country,
    )


def next_in_both(
    t_utc: datetime, a: SendingWindow, b: SendingWindow, horizon: timedelta = MEET_HORIZON
) -> datetime | None:
    """The earliest instant at or after `t_utc` inside both windows; None if they do not meet
    within `horizon`.

    Alternates between the two windows: the earliest common instant is `t_utc` itself or an
    opening of one window that lies inside the other, and each step moves strictly forward.
    """
    _require_aware(t_utc, "t_utc")
    limit = t_utc.astimezone(UTC) + horizon
    t = next_in_window(t_utc, a)
    while t <= limit:
        if b.contains(t):
            return t
        t = next_in_window(t, b)
        if t > limit:
            break
        if a.contains(t):
            return t
        t = next_in_window(t, a)
    return None


def jitter(seed: str, max_minutes: int) -> timedelta:
    """A stable pseudo-random offset in [0, max_minutes] (whole seconds) for `seed`.

    Seeded by the follow-up and stage, so a retry after a crash computes the same send time.
    """
    if max_minutes <= 0:
        return timedelta(0)
    digest = hashlib.sha256(seed.encode()).digest()
    return timedelta(seconds=int.from_bytes(digest[:8], "big") % (max_minutes * 60 + 1))


def jittered(t_utc: datetime, offset: timedelta, *windows: SendingWindow) -> datetime:
    """`t_utc` moved later by `offset` when that stays inside every window, else `t_utc`
    moved by as much of it as fits (halving), so jitter never pushes a bump out of its window."""
    _require_aware(t_utc, "t_utc")
    while offset >= timedelta(seconds=1):
        moved = t_utc + offset
        if all(w.contains(moved) for w in windows):
            return moved
        offset = timedelta(seconds=int(offset.total_seconds()) // 2)
    return t_utc
