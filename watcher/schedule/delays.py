"""Delays ("3d", "2 weeks", "5bd"): reading them, and adding one to an instant as the user
means it (calendar days keep the wall-clock time; business days skip weekends and holidays)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import holidays

from watcher.errors import ValidationError

from .zones import _require_aware, _to_utc, _wall, _zone

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
