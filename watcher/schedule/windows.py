"""Sending windows ("Mon-Fri 09:00-17:00 Europe/Berlin"): parsing, containment, the next
opening, and overdue bumps spread one by one inside the window."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from watcher.errors import ValidationError

from .delays import Delay, _holidays, add_delay
from .zones import _require_aware, _to_utc, _wall, _zone

# ---------------------------------------------------------------------------------------------
# Sending windows

_DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_FULL_DAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_END_OF_DAY = time.max  # stands for "24:00": a window may run to midnight
_HOURS_RE = re.compile(r"(\d{1,2})(?::(\d{2}))? ?[-\u2013] ?(\d{1,2})(?::(\d{2}))?")
_DAYS_HELP = "use mon-fri, mon,wed,fri, sat-sun or all"
_HOURS_HELP = "use 09:00-17:00, 9-17 or 00:00-24:00"


def _day_number(word: str, text: str) -> int:
    for names in (_DAY_NAMES, _FULL_DAY_NAMES):
        if word in names:
            return names.index(word)
    raise ValidationError(f"{text!r} is not a list of days: {_DAYS_HELP}")


def _parse_days(text: str) -> frozenset[int]:
    normal = re.sub(r"\s+", "", str(text).lower()).replace("\u2013", "-")
    if normal in ("all", "daily", "everyday"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in normal.split(","):
        first, dash, last = part.partition("-")
        a = _day_number(first, text)
        b = _day_number(last, text) if dash else a
        # "fri-mon" wraps through the weekend, as a person reads it.
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(days)


def _clock(hour: str, minute: str | None, text: str, *, is_end: bool) -> time:
    h, m = int(hour), int(minute or 0)
    if is_end and (h, m) == (24, 0):
        return _END_OF_DAY
    if h > 23 or m > 59:
        raise ValidationError(f"{text!r} is not a range of hours: {_HOURS_HELP}")
    return time(h, m)


def _hhmm(t: time) -> str:
    return "24:00" if t == _END_OF_DAY else t.strftime("%H:%M")


@dataclass(frozen=True)
class SendingWindow:
    """When bumps may go out: some weekdays, between `start` (inclusive) and `end` (exclusive)
    local wall time in zone `tz`. `end` is `time.max` for a window that runs to midnight."""

    tz: str
    days: frozenset[int] = field(default_factory=lambda: frozenset({0, 1, 2, 3, 4}))
    start: time = time(9, 0)
    end: time = time(17, 0)
    holiday_country: str | None = None  # no bumps on that country's public holidays either

    def __post_init__(self) -> None:
        _zone(self.tz)
        if self.holiday_country:
            _holidays(self.holiday_country, 2026)  # reject an unknown calendar up front
        object.__setattr__(self, "days", frozenset(self.days))
        if not self.days or not self.days <= set(range(7)):
            raise ValidationError(f"A sending window needs at least one day: {_DAYS_HELP}")
        if self.start >= self.end:
            raise ValidationError(
                f"A sending window must start before it ends, not "
                f"{_hhmm(self.start)}-{_hhmm(self.end)}: {_HOURS_HELP}"
            )

    @classmethod
    def parse(
        cls,
        tz: str,
        days: str = "mon-fri",
        hours: str = "09:00-17:00",
        holiday_country: str | None = None,
    ) -> SendingWindow:
        """Build a window from what a user types: days "mon-fri", hours "9-17"."""
        match = _HOURS_RE.fullmatch(re.sub(r"\s+", " ", str(hours).strip()))
        if match is None:
            raise ValidationError(f"{hours!r} is not a range of hours: {_HOURS_HELP}")
        start = _clock(match.group(1), match.group(2), hours, is_end=False)
        end = _clock(match.group(3), match.group(4), hours, is_end=True)
        return cls(
            tz=tz, days=_parse_days(days), start=start, end=end, holiday_country=holiday_country
        )

    def contains(self, t_utc: datetime) -> bool:
        """Whether the instant falls inside the window, judged by the local wall clock."""
        _require_aware(t_utc, "t_utc")
        local = t_utc.astimezone(_zone(self.tz))
        if local.weekday() not in self.days:
            return False
        if self.holiday_country and local.date() in _holidays(self.holiday_country, local.year):
            return False
        now = local.time()
        # time.max stands for 24:00, so the last microsecond of the day is inside too.
        return self.start <= now and (now < self.end or self.end == _END_OF_DAY)

    def describe(self) -> str:
        """E.g. "Mon-Fri 09:00-17:00 Europe/Berlin"."""
        runs: list[list[int]] = []
        for d in sorted(self.days):
            if runs and runs[-1][-1] == d - 1:
                runs[-1].append(d)
            else:
                runs.append([d])
        names = [
            _DAY_NAMES[r[0]].title() + (f"-{_DAY_NAMES[r[-1]].title()}" if len(r) > 1 else "")
            for r in runs
        ]
        text = f"{','.join(names)} {_hhmm(self.start)}-{_hhmm(self.end)} {self.tz}"
        return text + (f", not on {self.holiday_country} holidays" if self.holiday_country else "")


def ALWAYS(tz: str = "UTC") -> SendingWindow:  # upper case: reads as a constant where used
    """A window that is always open: every day, the whole day."""
    return SendingWindow(tz=tz, days=frozenset(range(7)), start=time(0, 0), end=_END_OF_DAY)


def next_in_window(t_utc: datetime, window: SendingWindow) -> datetime:
    """`t_utc` if it is inside the window, else the next instant the window opens (UTC)."""
    _require_aware(t_utc, "t_utc")
    t_utc = t_utc.astimezone(UTC)
    if window.contains(t_utc):
        return t_utc
    zone = _zone(window.tz)
    today = _wall(t_utc, zone).date()
    candidates = []
    # Two weeks covers a window swallowed whole by a DST gap on its only weekday; with
    # holidays, a month covers the longest run of them on the days a window allows.
    for offset in range(32 if window.holiday_country else 15):
        local = datetime.combine(today + timedelta(days=offset), window.start)
        candidates.append(_to_utc(local, zone))
        # On a fall-back day the opening time can come round a second time.
        candidates.append(local.replace(tzinfo=zone, fold=1).astimezone(UTC))
    return min(c for c in candidates if c > t_utc and window.contains(c))


def due_time(
    base_utc: datetime, delay: Delay, window: SendingWindow, holiday_country: str | None = None
) -> datetime:
    """When a bump `delay` after `base_utc` may go out: the delay, then the next window."""
    return next_in_window(add_delay(base_utc, delay, window.tz, holiday_country), window)


# ---------------------------------------------------------------------------------------------
# Overdue spreading


def spread_overdue(
    count: int, now_utc: datetime, window: SendingWindow, spacing: timedelta
) -> list[datetime]:
    """`count` send times for overdue bumps: `spacing` apart, each inside the window.

    After downtime a burst of bumps looks like a robot and can trip provider rate limits, so
    they go out one by one from the next opening; one that would fall past the window's end
    waits for the next opening.
    """
    if count < 0 or spacing < timedelta(0):
        raise ValueError(f"count and spacing must not be negative: {count}, {spacing}")
    times: list[datetime] = []
    t = next_in_window(now_utc, window)
    for _ in range(count):
        times.append(t)
        t = next_in_window(t + spacing, window)
    return times
