"""IANA zones and the two DST rules every schedule function keeps.

Two DST rules hold throughout, so results never depend on which function got there:
- a local wall time that does not exist (spring-forward gap) becomes the first instant after the
  gap, e.g. 02:30 on 2026-03-29 in Europe/Berlin becomes 03:00 CEST;
- a local wall time that happens twice (fall-back) means its first occurrence (fold=0).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watcher.errors import ValidationError


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
