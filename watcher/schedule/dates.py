"""User-given dates ("2026-12-01 14:30", or a delay from now): snooze-until and follow-up-on."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from watcher.errors import ValidationError

from .delays import DELAY_FORMS, _read_delay, add_delay
from .zones import _require_aware, _to_utc, _zone

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
