"""The send-later tag: the TAG of me+TAG@… on a draft, e.g. later-2w, later-mon-then-1w.

    later-<when>[-always][-then-<steps>[-remind|-send]]

<when> is a plus-tag step (3d, 2w, 5bd, 12h, mon … sun, tomorrow) or a date (2026-12-20, at
the start of the sending window). "Unless they write first" is the default: a message that
says "following up on our call" must not go out after the person wrote; -always sends anyway.
-then-<steps> puts a follow-up on the message once it is sent, read as a plus-address tag.
The explicit word "later" keeps an ordinary plus tag on a half-written (autosaved) draft from
ever being taken as "send this".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from ..errors import ValidationError
from ..schedule import (
    PLUS_HELP,
    Delay,
    PlusTag,
    SendingWindow,
    _to_utc,
    _zone,
    add_delay,
    next_in_window,
    parse_plus_tag,
)

LATER = "later"
ALWAYS = "always"
THEN = "then"
_DATE_WORDS = re.compile(r"\d{4}-\d{2}-\d{2}")
LATER_HELP = (
    "later-WHEN on a draft, WHEN being a delay like 3d, 2w, 5bd or 12h, a weekday (mon … sun), "
    "tomorrow or a date like 2026-12-20; add -always to send even if they wrote to you first "
    "(by default it is then kept as a draft), and -then-1w to follow up if no reply "
    "(me+later-2w-then-1w@…)"
)


def is_later_tag(tag: str | None) -> bool:
    """Does this plus tag ask for send later (only "later" or "later-…")?"""
    if not tag:
        return False
    normal = tag.strip().lower()
    return normal == LATER or normal.startswith(LATER + "-")


@dataclass(frozen=True)
class LaterTag:
    when: Delay | str | date  # a delay, a day word ("mon", "tomorrow") or a date
    unless_reply: bool = True
    then: PlusTag | None = None  # the follow-up once it is sent

    def send_at(self, now_utc: datetime, window: SendingWindow) -> datetime:
        """When it goes out: the delay from now or that day at the window's start, then the
        next moment inside the sending window. Raises ValidationError for a past date."""
        if isinstance(self.when, Delay):
            at = add_delay(now_utc, self.when, window.tz, window.holiday_country)
        elif isinstance(self.when, str):
            at = PlusTag((self.when,)).first_at(now_utc, window)
        else:
            at = _to_utc(datetime.combine(self.when, window.start), _zone(window.tz))
            today = now_utc.astimezone(_zone(window.tz)).date()
            if self.when < today:
                raise ValidationError(
                    f"{self.when.isoformat()} is in the past: use a date from today on"
                )
        return next_in_window(max(at, now_utc), window)


def parse_later_tag(tag: str) -> LaterTag:
    """Read a later tag (any case). Raises ValidationError naming the problem and the forms."""
    normal = str(tag).strip().lower()
    words = normal.split("-")
    if not words or words[0] != LATER:
        raise ValidationError(f"'{normal}' is not a send-later tag: use {LATER_HELP}")
    words = words[1:]
    then_words: list[str] = []
    if THEN in words:
        at = words.index(THEN)
        words, then_words = words[:at], words[at + 1 :]
        if not then_words:
            raise ValidationError(f"'{normal}': -then needs a delay after it, like -then-1w")
    unless_reply = True
    if words and words[-1] == ALWAYS:
        words, unless_reply = words[:-1], False
    if then_words and then_words[-1] == ALWAYS:  # later-2w-then-1w-always reads as well
        then_words, unless_reply = then_words[:-1], False
    if not words:
        raise ValidationError(f"'{normal}' does not say when: use {LATER_HELP}")
    when = _when(words, normal)
    then = None
    if then_words:
        try:
            then = parse_plus_tag("-".join(then_words))
        except ValidationError as e:
            raise ValidationError(f"'{normal}': the follow-up after it: {e.message}") from None
    return LaterTag(when=when, unless_reply=unless_reply, then=then)


def _when(words: list[str], normal: str) -> Delay | str | date:
    joined = "-".join(words)
    if _DATE_WORDS.fullmatch(joined):
        try:
            return date.fromisoformat(joined)
        except ValueError:
            raise ValidationError(f"'{normal}': {joined} is not a real date") from None
    if len(words) != 1:
        raise ValidationError(
            f"'{normal}': {joined!r} is not one time: use {LATER_HELP}; a follow-up after it "
            "goes after -then-"
        )
    try:
        return parse_plus_tag(words[0]).steps[0]
    except ValidationError:
        raise ValidationError(f"'{normal}': {words[0]!r} is not a time: use {LATER_HELP}") from None


def describe_forms() -> str:
    """What the help e-mail about an unreadable later tag lists."""
    return f"{LATER_HELP}. (Plus tags on sent mail: {PLUS_HELP}.)"
