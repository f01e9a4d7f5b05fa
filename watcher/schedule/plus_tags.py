"""Plus-address tags (me+2w@…, me+3d-1w-remind@…, me+fri@…): the grammar and its errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from watcher.errors import ValidationError

from .delays import Delay
from .windows import _DAY_NAMES, _FULL_DAY_NAMES, SendingWindow
from .zones import _require_aware, _to_utc, _wall, _zone

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
