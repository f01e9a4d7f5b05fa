"""Checking what a user typed for a rule: name, mode, delays, exclusions, in canonical form."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .. import schedule
from ..errors import ValidationError
from .addresses import _DOMAIN, _LOCAL
from .spec import MAX_EXCLUSIONS, MAX_STAGES, MODES


@dataclass(frozen=True)
class RuleFields:
    """A rule's user-given fields, checked and in canonical form."""

    name: str
    mode: str
    delays: list[str]
    exclude_domains: list[str]
    exclude_addresses: list[str]
    exclude_subjects: list[str]


def _split(values: Iterable[str] | str | None) -> list[str]:
    """Accept a list, or one text with commas/newlines (a form field)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out = []
    for value in values:
        out.extend(p.strip() for p in re.split(r"[,\n;]", value or ""))
    return [p for p in out if p]


def clean_domain(value: str) -> str:
    domain = value.strip().lower().lstrip("@").lstrip("*").lstrip(".")
    if not _DOMAIN.fullmatch(domain):
        raise ValidationError(f"{value!r} is not a domain: write it like example.com")
    return domain


def clean_address(value: str) -> str:
    address = value.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or not _DOMAIN.fullmatch(domain):
        raise ValidationError(f"{value!r} is not an e-mail address")
    return address


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def validate_fields(
    *,
    name: str,
    mode: str,
    delays: Iterable[str] | str,
    exclude_domains: Iterable[str] | str | None = (),
    exclude_addresses: Iterable[str] | str | None = (),
    exclude_subjects: Iterable[str] | str | None = (),
) -> RuleFields:
    """Check what a user typed for a rule; ValidationError says what is wrong and how to fix it."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("a rule needs a name, e.g. 'Cold outreach'")
    if len(name) > 200:
        raise ValidationError("a rule's name is at most 200 characters")
    mode = (mode or "").strip().lower()
    if mode not in MODES:
        raise ValidationError(f"unknown mode {mode!r}: use send or remind")
    steps = _split(delays)
    if not steps:
        raise ValidationError("a rule needs at least one delay, e.g. 3d")
    if len(steps) > MAX_STAGES:
        raise ValidationError(f"at most {MAX_STAGES} bumps per rule")
    canonical = [str(schedule.parse_delay(d)) for d in steps]
    domains = _unique([clean_domain(d) for d in _split(exclude_domains)])
    addresses = _unique([clean_address(a) for a in _split(exclude_addresses)])
    subjects = _unique([" ".join(s.split()) for s in _split(exclude_subjects)])
    for label, values in (("domains", domains), ("addresses", addresses), ("subjects", subjects)):
        if len(values) > MAX_EXCLUSIONS:
            raise ValidationError(f"at most {MAX_EXCLUSIONS} excluded {label}")
    if any(len(s) > 200 for s in subjects):
        raise ValidationError("an excluded subject phrase is at most 200 characters")
    return RuleFields(name, mode, canonical, domains, addresses, subjects)
