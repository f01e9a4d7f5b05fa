"""Pure: which IANA zone a person most likely lives in, from the UTC offsets of their Date headers.

One offset fits dozens of zones; offsets seen on both sides of a DST change narrow it to the
zones whose rules agree at those instants (+01:00 in January and +02:00 in July: Central
Europe; +11:00 in January and +10:00 in July: south-east Australia). Every zone is scored by how
many observations it explains; ties go to the zone more people live in (a short preference
list), then to the alphabetically first name, so the answer is stable.

A zone also names the country whose public holidays the person most likely keeps: the tz
database's own tables (zone1970.tab, zone.tab) say which country a zone belongs to.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import holidays

# Where most correspondents live, most likely first within each offset family. Only consulted
# to break ties between zones that explain the observations equally well.
PREFERRED = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Bogota",
    "America/Santiago",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Zurich",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Kyiv",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Lagos",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Manila",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Perth",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Pacific/Auckland",
    "UTC",
)
_RANK = {name: i for i, name in enumerate(PREFERRED)}
MAX_OBSERVATIONS = 20  # per address: the latest ones; enough to span a DST change or two


@lru_cache(maxsize=1)
def _candidates() -> tuple[tuple[str, ZoneInfo], ...]:
    """Canonical-looking zone names: Area/City, plus UTC (no Etc/GMT+5-style or legacy names)."""
    names = sorted(
        n
        for n in available_timezones()
        if ("/" in n and n.split("/")[0] not in ("Etc", "SystemV", "US", "posix", "right"))
        or n == "UTC"
    )
    zones = []
    for name in names:
        try:
            zones.append((name, ZoneInfo(name)))
        except (ValueError, OSError):  # a name listed by the system but not loadable
            continue
    return tuple(zones)


def infer_zone(observations: Iterable[tuple[datetime, int]]) -> str | None:
    """The IANA zone that best explains (UTC instant, offset in minutes) observations.

    None without observations, or when no zone has any of the offsets seen.
    """
    obs = [(t, int(m)) for t, m in observations if t is not None and m is not None]
    if not obs:
        return None
    return _infer(tuple(sorted(set(obs))))


@lru_cache(maxsize=1024)
def _infer(obs: tuple[tuple[datetime, int], ...]) -> str | None:
    best: tuple[int, int, str] | None = None  # (-score, rank, name): smallest wins
    for name, zone in _candidates():
        score = 0
        for t, minutes in obs:
            offset = t.astimezone(zone).utcoffset()
            if offset is not None and offset.total_seconds() == minutes * 60:
                score += 1
        if score == 0:
            continue
        key = (-score, _RANK.get(name, len(_RANK)), name)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


# ---------------------------------------------------------------------------------------------
# Zone -> country (for the recipient's public holidays)


def _tab_text(name: str) -> str | None:
    """A tz database table, found where zoneinfo finds zones: the system's TZPATH first, then
    the `tzdata` package. None if neither has it."""
    for folder in zoneinfo.TZPATH:
        path = Path(folder) / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    try:
        return resources.files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return None


def _read_tab(text: str | None) -> dict[str, tuple[str, ...]]:
    """zone -> country codes, from zone1970.tab / zone.tab lines "CODES<TAB>coords<TAB>zone"."""
    table: dict[str, tuple[str, ...]] = {}
    for line in (text or "").splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) >= 3:
            table[fields[2]] = (*table.get(fields[2], ()), *fields[0].split(","))
    return table


@lru_cache(maxsize=1)
def _zone_countries() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    return _read_tab(_tab_text("zone1970.tab")), _read_tab(_tab_text("zone.tab"))


def country_of_zone(zone: str | None) -> str | None:
    """The ISO 3166 country a zone belongs to (Europe/Berlin -> DE), or None.

    zone1970.tab groups zones that agree since 1970, so one zone may stand for several
    countries (Europe/Berlin: DE, DK, NO, SE, SJ); then only zone.tab, which names the one
    country each zone was made for, can decide. Etc/UTC and the like have no country.
    """
    if not zone:
        return None
    since_1970, classic = _zone_countries()
    countries = since_1970.get(zone, ())
    if len(countries) == 1:
        return countries[0]
    named = classic.get(zone, ())
    return named[0] if len(named) == 1 else None


def holiday_country_of(zone: str | None) -> str | None:
    """The country code of `zone` when the `holidays` package has its calendar, else None."""
    country = country_of_zone(zone)
    return country if country in _supported_countries() else None


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())
