"""Pure time arithmetic: delays, business days, sending windows, IANA zones with DST.

Everything stored is UTC. A zone is used only to decide what "in 3 days", "Mon-Fri 09:00-17:00"
or "2026-12-01" mean to the user, so every function takes UTC-aware datetimes and returns them.

Two DST rules hold throughout, so results never depend on which function got there:
- a local wall time that does not exist (spring-forward gap) becomes the first instant after the
  gap, e.g. 02:30 on 2026-03-29 in Europe/Berlin becomes 03:00 CEST;
- a local wall time that happens twice (fall-back) means its first occurrence (fold=0).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from watcher.errors import ValidationError

# ---------------------------------------------------------------------------------------------
# Delays

_SHORT = {"minutes": "m", "hours": "h", "days": "d", "weeks": "w", "business_days": "bd"}
_UNIT_WORDS = {
    **dict.fromkeys(["m", "min", "mins", "minute", "minutes"], "minutes"),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], "hours"),
    **dict.fromkeys(["d", "day", "days"], "days"),
    **dict.fromkeys(["w", "wk", "wks", "week", "weeks"], "weeks"),
    **dict.fromkeys(
        ["bd", "business day", "business days", "working day", "working days", "workday"],
        "business_days",
    ),
    "workdays": "business_days",
}
# About ten years in each unit: far enough for any follow-up, near enough that date arithmetic
# cannot overflow and the business-day loop stays short.
_MAX_AMOUNT = {
    "minutes": 3660 * 24 * 60,
    "hours": 3660 * 24,
    "days": 3660,
    "weeks": 522,
    "business_days": 2610,
}
# What parse_delay accepts, said once: the settings page's hints and every error quote it, so a
# hint can never promise what the parser refuses (or the reverse).
DELAY_FORMS = "3d, 1w, 2w, 12h, 30m or 5bd (business days); also written out: 3 days, 2 weeks"
_DELAY_HELP = f"use {DELAY_FORMS}"
_DELAY_RE = re.compile(r"(\d+) ?([a-z ]+)")


@dataclass(frozen=True)
class Delay:
    """How long to wait: an amount of one unit. `str()` gives the canonical short form."""

    amount: int
    unit: str  # "minutes" | "hours" | "days" | "weeks" | "business_days"

    def __post_init__(self) -> None:
        if self.unit not in _SHORT:
            raise ValidationError(f"{self.unit!r} is not a delay unit: {_DELAY_HELP}")
        if not 1 <= self.amount <= _MAX_AMOUNT[self.unit]:
            raise ValidationError(
                f"'{self.amount}{_SHORT[self.unit]}' is not a usable delay: "
                f"it must be at least 1 and at most about ten years"
            )

    def __str__(self) -> str:
        return f"{self.amount}{_SHORT[self.unit]}"


def parse_delay(text: str) -> Delay:
    """Read "3d", "1w", "12h", "30m", "5bd", "3 days", "2 Weeks", "5 business days"."""
    delay = _read_delay(text)
    if delay is None:
        raise ValidationError(f"{text!r} is not a delay: {_DELAY_HELP}")
    return delay


def _read_delay(text: str) -> Delay | None:
    """The delay `text` spells, None if it is not shaped like one (an amount out of range
    still raises: "0d" is a delay, just not a usable one)."""
    normal = re.sub(r"[\s_-]+", " ", str(text).strip().lower())
    match = _DELAY_RE.fullmatch(normal)
    unit = _UNIT_WORDS.get(match.group(2).strip()) if match else None
    if match is None or unit is None:
        return None
    return Delay(int(match.group(1)), unit)


# ---------------------------------------------------------------------------------------------
# Zones and the two DST rules


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError(
            f"{tz!r} is not a time zone: use an IANA name like Europe/Berlin or America/New_York"
        ) from None


def _require_aware(t: datetime, name: str = "time") -> None:
    # A naive datetime here is a programming error (everything stored is UTC), not user input.
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {t!r}")


def _wall(t_utc: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall time of an instant."""
    return t_utc.astimezone(zone).replace(tzinfo=None, fold=0)


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """Naive local wall time in `zone` -> UTC instant, applying the two DST rules above."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(first, zone) == local:
        return first  # exists; fold=0 is the first of a repeated hour
    # In a gap. fold=1 reads the wall time with the offset after the jump, fold=0 with the one
    # before; the jump lies between the two readings. Find the first second whose wall time is
    # not before `local`: that is the instant the clock jumps, i.e. the end of the gap.
    lo = int(local.replace(tzinfo=zone, fold=1).timestamp())
    hi = int(first.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), zone) >= local:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


# ---------------------------------------------------------------------------------------------
# Delays applied


@lru_cache(maxsize=256)
def _holidays(code: str, year: int) -> frozenset[date]:
    # Cached per (country, year) as a frozenset: a shared HolidayBase grows itself on lookup,
    # which is not safe across the watcher's and the web app's threads.
    if "," in code:  # "DE,IN" (see holiday_union): a day off in any of the calendars
        return frozenset().union(*(_holidays(c.strip(), year) for c in code.split(",")))
    country, _, subdiv = code.upper().partition("-")
    try:
        return frozenset(holidays.country_holidays(country, subdiv=subdiv or None, years=year))
    except NotImplementedError:
        raise ValidationError(
            f"{code!r} is not a holiday calendar we know: use a country code like DE or US, "
            f"optionally with a region like US-CA"
        ) from None


def holiday_union(*codes: str | None) -> str | None:
    """Several holiday calendars as one `holiday_country` value ("DE,IN"), None if none:
    business days then skip the public holidays of the user's and the recipient's country."""
    seen = dict.fromkeys(c.strip().upper() for c in codes if c and c.strip())
    return ",".join(seen) or None


def _is_business_day(d: date, holiday_country: str | None) -> bool:
    if d.weekday() >= 5:
        return False
    return not holiday_country or d not in _holidays(holiday_country, d.year)


def add_delay(
    start_utc: datetime, delay: Delay, tz: str, holiday_country: str | None = None
) -> datetime:
    """`start_utc` + `delay`, as the user in zone `tz` means it; returns UTC.

    Minutes and hours are elapsed time. Days, weeks and business days move the local calendar
    date and keep the local wall-clock time, so "1w" from Monday 10:00 is next Monday 10:00
    even when a DST change lies between. Business days skip Saturday, Sunday and, with
    `holiday_country` ("DE", "US", "US-CA"), that country's public holidays.
    """
    _require_aware(start_utc, "start_utc")
    zone = _zone(tz)
    if delay.unit in ("minutes", "hours"):
        return start_utc.astimezone(UTC) + timedelta(**{delay.unit: delay.amount})
    local = _wall(start_utc, zone)
    if delay.unit == "days":
        local += timedelta(days=delay.amount)
    elif delay.unit == "weeks":
        local += timedelta(weeks=delay.amount)
    else:
        if holiday_country is not None:
            _holidays(holiday_country, local.year)  # reject an unknown country up front
        left = delay.amount
        while left:
            local += timedelta(days=1)
            left -= _is_business_day(local.date(), holiday_country)
    return _to_utc(local, zone)


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
# User-given dates and overdue spreading

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LOCAL_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_DEFAULT_HOUR = time(9, 0)  # a bare date means the start of a working day, not midnight


def example_date(now_utc: datetime, tz: str) -> str:
    """A date a week from now in the user's zone ("2026-12-08"): the example in hints and
    errors, so it is never in the past."""
    return (now_utc.astimezone(_zone(tz)) + timedelta(days=7)).date().isoformat()


def date_forms(now_utc: datetime, tz: str) -> str:
    """The dates parse_when reads, with an example that is in the future."""
    day = example_date(now_utc, tz)
    return f"a date like {day} 14:30 ({day} alone means 09:00), in your time zone ({tz})"


def when_forms(now_utc: datetime, tz: str) -> str:
    """Everything parse_when (and a stage's "when") accepts: a delay from now, or a date."""
    return f"{DELAY_FORMS}; or {date_forms(now_utc, tz)}"


def parse_when(text: str, now_utc: datetime, tz: str) -> datetime:
    """A user's "snooze until" / "follow up on": a delay from now, or a date/time; returns UTC.

    A date without a time means 09:00 local; a date/time without an offset is local to `tz`;
    one with an offset or Z is taken as given. The result must lie in the future.
    """
    _require_aware(now_utc, "now_utc")
    zone = _zone(tz)
    raw = str(text).strip()
    forms_help = f"use {when_forms(now_utc, tz)}"
    if not _DATE_RE.match(raw):
        delay = _read_delay(raw)
        if delay is None:
            raise ValidationError(f"{raw!r} is not a delay or a date: {forms_help}")
        return add_delay(now_utc, delay, tz)
    try:
        date.fromisoformat(raw[:10])
    except ValueError:
        raise ValidationError(f"{raw!r} is not a real date: {forms_help}") from None
    match = _LOCAL_RE.fullmatch(raw)
    if match:
        y, mo, d, h, mi, s = (int(g) if g else None for g in match.groups())
        try:
            clock = _DEFAULT_HOUR if h is None else time(h, mi, s or 0)
        except ValueError:
            raise ValidationError(f"{raw!r} is not a real time of day: {forms_help}") from None
        when = _to_utc(datetime.combine(date(y, mo, d), clock), zone)
    else:
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ValidationError(f"{raw!r} is not a date we can read: {forms_help}")
        when = parsed.astimezone(UTC)
    if when <= now_utc:
        shown = when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        raise ValidationError(f"{raw!r} ({shown}) is not in the future: pick a later time")
    return when


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


# ---------------------------------------------------------------------------------------------
# The recipient's working hours, and a human-looking send time

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


# ---------------------------------------------------------------------------------------------
# Plus-address tags: me+2w@example.com, me+3d-1w-remind@…, me+fri@…

PLUS_MAX_STAGES = 5  # the same bound as followups.MAX_STAGES (a test keeps them equal)
# At most a year per step: a plus-address is typed in a hurry, and "me+300w" is a typo.
_PLUS_MAX = {"hours": 366 * 24, "days": 366, "weeks": 52, "business_days": 261}
_PLUS_UNITS = {"h": "hours", "d": "days", "w": "weeks", "bd": "business_days"}
_PLUS_DELAY_RE = re.compile(r"(\d{1,4})(bd|d|w|h)")
_PLUS_MODES = ("remind", "send")
PLUS_RESERVED = "bump"  # me+bump@…: marks a draft as bump text, never a schedule
PLUS_HELP = (
    "a delay like 3d (days), 2w (weeks), 5bd (business days) or 12h (hours), a weekday "
    "(mon … sun, or monday … sunday) or tomorrow; several bumps joined with '-' (3d-1w: "
    f"after 3 days, then a week after that; at most {PLUS_MAX_STAGES}); optionally ending in "
    "-remind (only bring the thread back to you) or -send"
)


@dataclass(frozen=True)
class PlusTag:
    """What me+TAG@… asks for. `steps` are Delays, or for the first step only a day word
    ("mon" … "sun", "tomorrow") that `first_at` turns into a time. `mode` is "send", "remind"
    or None (the user's default: send)."""

    steps: tuple[Delay | str, ...]
    mode: str | None = None

    def __str__(self) -> str:
        return "-".join([*(str(s) for s in self.steps), *([self.mode] if self.mode else [])])

    def first_at(self, now_utc: datetime, window: SendingWindow) -> datetime | None:
        """The first bump's time when it is a day word: that day's next occurrence after today
        (the user's zone) at the start of the sending window; None when it is a delay."""
        word = self.steps[0]
        if isinstance(word, Delay):
            return None
        _require_aware(now_utc, "now_utc")
        zone = _zone(window.tz)
        today = _wall(now_utc, zone).date()
        if word == "tomorrow":
            day = today + timedelta(days=1)
        else:
            ahead = (_DAY_NAMES.index(word) - today.weekday()) % 7 or 7
            day = today + timedelta(days=ahead)
        return _to_utc(datetime.combine(day, window.start), zone)


def _plus_step(word: str, position: int, tag: str) -> Delay | str:
    if word in _DAY_NAMES or word in _FULL_DAY_NAMES or word == "tomorrow":
        if position != 1:
            raise ValidationError(
                f"'{tag}': a day ({word}) can only be the first bump; later bumps are delays "
                "like 1w"
            )
        return word if word == "tomorrow" or word in _DAY_NAMES else word[:3]
    match = _PLUS_DELAY_RE.fullmatch(word)
    if match is None:
        raise ValidationError(f"'{tag}': {word!r} is not a delay or a day: use {PLUS_HELP}")
    amount, unit = int(match.group(1)), _PLUS_UNITS[match.group(2)]
    if not 1 <= amount <= _PLUS_MAX[unit]:
        raise ValidationError(
            f"'{tag}': {word} is out of range: each delay is at least 1 and at most a year "
            f"({_PLUS_MAX['days']}d, {_PLUS_MAX['weeks']}w, {_PLUS_MAX['business_days']}bd "
            f"or {_PLUS_MAX['hours']}h)"
        )
    return Delay(amount, unit)


def parse_plus_tag(tag: str) -> PlusTag:
    """Read the TAG of me+TAG@… (any case): "2w", "3d-1w", "1w-remind", "fri", "tomorrow-send".

    Raises ValidationError naming what is wrong and the valid forms.
    """
    normal = str(tag).strip().lower()
    if not normal:
        raise ValidationError(f"the address has an empty tag: use {PLUS_HELP}")
    if normal == PLUS_RESERVED:
        raise ValidationError(
            f"'{PLUS_RESERVED}' marks a draft whose text becomes the bump; on a sent message "
            f"use a schedule: {PLUS_HELP}"
        )
    words = normal.split("-")
    if words[0] == "later":  # send later (watcher.later.tags) works on drafts only
        raise ValidationError(
            f"'{normal}' sends a draft later: save the message as a draft with this address "
            "(do not send it) and Replywatch sends it at that time"
        )
    mode = words.pop() if words[-1] in _PLUS_MODES else None
    if not words or "" in words:
        raise ValidationError(f"'{normal}' has no schedule: use {PLUS_HELP}")
    if len(words) > PLUS_MAX_STAGES:
        raise ValidationError(
            f"'{normal}' asks for {len(words)} bumps; at most {PLUS_MAX_STAGES} are allowed"
        )
    steps = tuple(_plus_step(w, i, normal) for i, w in enumerate(words, start=1))
    return PlusTag(steps, mode)
