"""Time zones as people name them: a short list to search, and "Berlin" read as Europe/Berlin.

The settings page offers a datalist of common zones (city, region, current UTC offset) instead of
all 500-odd IANA names; any IANA name can still be typed. What a person types is resolved here:
an IANA name in any case is taken as it is; a city or country word that names exactly one zone
("Berlin", "new york") is suggested, never silently swapped in, and the typed text is kept.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from watcher.errors import ValidationError

# One zone per populated offset and the places people most often live or work in.
COMMON = [
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Vancouver",
    "America/Denver",
    "America/Phoenix",
    "America/Chicago",
    "America/Mexico_City",
    "America/New_York",
    "America/Toronto",
    "America/Bogota",
    "America/Lima",
    "America/Halifax",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/St_Johns",
    "Atlantic/Azores",
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Africa/Lagos",
    "Europe/Berlin",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/Stockholm",
    "Europe/Oslo",
    "Europe/Copenhagen",
    "Europe/Warsaw",
    "Europe/Prague",
    "Europe/Budapest",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Kyiv",
    "Europe/Istanbul",
    "Asia/Jerusalem",
    "Europe/Moscow",
    "Africa/Nairobi",
    "Asia/Riyadh",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Ho_Chi_Minh",
    "Asia/Singapore",
    "Asia/Kuala_Lumpur",
    "Asia/Manila",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Australia/Perth",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Pacific/Auckland",
]


@lru_cache(maxsize=1)
def _all() -> dict[str, str]:
    """lower-case name -> IANA name, for every zone the system knows."""
    return {z.lower(): z for z in available_timezones()}


def _place(zone: str) -> str:
    """The city part of a zone name, as written: "New York" for America/New_York."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def offset(zone: str, now: datetime) -> str:
    """ "UTC+01:00" for Europe/Berlin in winter."""
    delta = now.astimezone(ZoneInfo(zone)).utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def short_list(now: datetime, *extra: str | None) -> list[tuple[str, str]]:
    """(zone, label) of the common zones plus `extra` ones (the user's own), by offset:
    label "Berlin · Europe · UTC+01:00"."""
    zones = dict.fromkeys([*COMMON, *(z for z in extra if z and z.lower() in _all())])
    rows = []
    for zone in zones:
        region = zone.split("/", 1)[0] if "/" in zone else ""
        label = " · ".join(p for p in (_place(zone), region, offset(zone, now)) if p)
        rows.append((ZoneInfo(zone).utcoffset(now.replace(tzinfo=None)), zone, label))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [(zone, label) for _, zone, label in rows]


def suggestions(text: str, limit: int = 5) -> list[str]:
    """Zones whose city (or any part of the name) matches what was typed, best first."""
    words = " ".join(text.replace("_", " ").replace("/", " ").lower().split())
    if not words:
        return []
    exact = [z for z in _all().values() if _place(z).lower() == words]
    partial = [
        z for z in _all().values() if words in z.replace("_", " ").lower() and z not in exact
    ]
    ordered = sorted(exact, key=lambda z: (z not in COMMON, z)) + sorted(
        partial, key=lambda z: (z not in COMMON, len(z), z)
    )
    return ordered[:limit]


class UnknownZone(ValidationError):
    """Not a zone name; `suggestions` holds the zones the text may mean."""

    def __init__(self, message: str, suggestions: list[str]):
        super().__init__(message)
        self.suggestions = suggestions


def resolve(text: str) -> str:
    """The IANA name for what was typed (any case), or UnknownZone with suggestions."""
    typed = (text or "").strip()
    found = _all().get(typed.lower())
    if found:
        return found
    near = suggestions(typed)
    if near:
        raise UnknownZone(
            f"{typed!r} is not a time zone name; did you mean {' or '.join(near[:3])}?", near
        )
    raise UnknownZone(
        f"{typed!r} is not a time zone: type a city (Berlin, New York) and pick from the "
        "list, or an IANA name like Europe/Berlin",
        [],
    )
