"""Pure: the add-on's form fields, their choices, and submitted values -> follow-up requests.

cards.py draws these fields; addon.py reads them back through the functions here. Errors a user
can fix (a date in the past, a text too long) are ValidationError and come back as a
notification; a form that Google would never send is events.BadEvent (400).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from watcher import schedule
from watcher.errors import ValidationError
from watcher.followups import StageSpec, plus_tag
from watcher.later.tags import is_later_tag, parse_later_tag
from watcher.models import Mode

from .events import MAX_TEXT, AddonEvent, BadEvent, picked_time

# Field names (the `name` of the widgets; the keys of formInputs).
WHEN, AT, THEN = "when", "at", ("then_1", "then_2")
MODE, TEXT = "mode", "text"
SNOOZE_AT = "snooze_at"

PRESETS = (("3d", "In 3 days"), ("1w", "In 1 week"), ("2w", "In 2 weeks"))
ON_DATE = "date"
THEN_CHOICES = (
    ("", "No more bumps"),
    ("3d", "3 days later"),
    ("1w", "1 week later"),
    ("2w", "2 weeks later"),
)
MODES = ((Mode.SEND.value, "Send the follow-up for me"), (Mode.REMIND.value, "Only remind me"))
SNOOZES = {"1d": timedelta(days=1), "1w": timedelta(weeks=1)}


@dataclass(frozen=True)
class FollowUpRequest:
    stages: list[StageSpec]
    mode: str


def read_followup(event: AddonEvent, now: datetime, tz: str, default_text: str) -> FollowUpRequest:
    """The 'Follow up if no reply' form -> stages (1 to 3) and mode."""
    when = event.text(WHEN)
    if when is None:
        raise ValidationError("choose when to follow up")
    text = read_text(event, default_text)
    if when == ON_DATE:
        picked = event.ms(AT)
        if picked is None:
            raise ValidationError("pick a date and time for the follow-up")
        at = picked_time(*picked, tz)
        if at <= now:
            raise ValidationError("that date is in the past: pick a later one")
        first = StageSpec(at=at, text=text)
    elif when in dict(PRESETS):
        first = StageSpec(delay=schedule.parse_delay(when), text=text)
    else:
        raise BadEvent(f"{when!r} is not one of the offered choices")
    stages = [first]
    for name in THEN:
        later = event.text(name) or ""
        if later not in dict(THEN_CHOICES):
            raise BadEvent(f"{later!r} is not one of the offered choices")
        if later:
            stages.append(StageSpec(delay=schedule.parse_delay(later), text=text))
    return FollowUpRequest(stages=stages, mode=read_mode(event))


def read_mode(event: AddonEvent) -> str:
    mode = event.text(MODE) or Mode.SEND.value
    if mode not in dict(MODES):
        raise BadEvent(f"{mode!r} is not one of the offered choices")
    return mode


def read_text(event: AddonEvent, default_text: str) -> str | None:
    """The bump text as a stored template: None keeps the user's template.

    The card shows the template already filled in ("Hi Alice, ..."); an edited text is stored
    with its braces doubled, since stage texts are templates rendered again at send time.
    """
    text = event.text(TEXT)
    if text is None:
        return None
    if len(text) > MAX_TEXT:
        raise ValidationError(f"the follow-up text is too long (at most {MAX_TEXT} characters)")
    text = text.replace("\r\n", "\n")
    if not text.strip() or text.strip() == default_text.strip():
        return None
    return text.replace("{", "{{").replace("}", "}}")


def read_snooze(event: AddonEvent, now: datetime, tz: str) -> datetime:
    """'1d', '1w' (from now) or 'date' (the snooze picker) -> aware UTC."""
    until = event.param("until")
    if until in SNOOZES:
        return now + SNOOZES[until]
    if until == ON_DATE:
        picked = event.ms(SNOOZE_AT)
        if picked is None:
            raise ValidationError("pick a date to snooze until")
        return picked_time(*picked, tz)
    raise BadEvent("snooze needs until=1d, 1w or date")


def read_id(event: AddonEvent) -> int:
    raw = event.param("id") or ""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise BadEvent("the action has no follow-up id")
    return int(raw)


def read_offset(event: AddonEvent) -> int:
    raw = event.param("offset") or "0"
    if not raw.isascii() or not raw.isdigit() or len(raw) > 7:
        raise BadEvent("offset is not a small number")
    return int(raw)


# -- the compose card: a plus-address tag in Bcc ------------------------------------------------


@dataclass(frozen=True)
class BccTag:
    address: str  # you+2w@example.com
    tag: schedule.PlusTag  # as the plus-address trigger will read it

    @property
    def remind(self) -> bool:
        return self.tag.mode == "remind"


def read_compose_tag(event: AddonEvent, now: datetime, tz: str, account_email: str) -> BccTag:
    """The compose card's choice -> the user's plus-address, in the one grammar the
    plus-address trigger reads (schedule.parse_plus_tag): 3d / 1w / 2w, a date as whole days
    from today in the user's zone ("10d"), then "-remind" for remind-only (send is the default
    and needs no word)."""
    when = event.text(WHEN)
    if when is None:
        raise ValidationError("choose when to follow up")
    if when == ON_DATE:
        picked = event.ms(AT)
        if picked is None:
            raise ValidationError("pick a date for the follow-up")
        zone = ZoneInfo(tz)
        day = picked_time(*picked, tz).astimezone(zone).date()
        days = (day - now.astimezone(zone).date()).days
        if days < 1:
            raise ValidationError("pick a day after today")
        words = [f"{days}d"]
    elif when in dict(PRESETS):
        words = [when]
    else:
        raise BadEvent(f"{when!r} is not one of the offered choices")
    if read_mode(event) == Mode.REMIND.value:
        words.append("remind")
    tag = "-".join(words)
    parsed = schedule.parse_plus_tag(tag)  # a day out of range is the user's ValidationError
    address = tag_address(account_email, tag)
    if plus_tag(address, [account_email]) != tag:  # the trigger must read back what we wrote
        raise ValidationError(f"{account_email} cannot carry a follow-up tag")
    return BccTag(address, parsed)


@dataclass(frozen=True)
class LaterChoice:
    address: str  # you+later-2w@example.com
    when: str  # "in 2 weeks", "on 2026-12-20"


def read_later_tag(event: AddonEvent, now: datetime, tz: str, account_email: str) -> LaterChoice:
    """The compose card's "Send later instead" -> me+later-2w@… (or me+later-2026-12-20@…),
    in the grammar the send-later trigger reads (watcher.later.tags)."""
    when = event.text(WHEN)
    if when is None:
        raise ValidationError("choose when to send it")
    if when == ON_DATE:
        picked = event.ms(AT)
        if picked is None:
            raise ValidationError("pick a date to send it on")
        zone = ZoneInfo(tz)
        day = picked_time(*picked, tz).astimezone(zone).date()
        if day <= now.astimezone(zone).date():
            raise ValidationError("pick a day after today")
        tag, said = f"later-{day.isoformat()}", f"on {day.isoformat()}"
    elif when in dict(PRESETS):
        tag, said = f"later-{when}", dict(PRESETS)[when].lower()
    else:
        raise BadEvent(f"{when!r} is not one of the offered choices")
    parse_later_tag(tag)
    address = tag_address(account_email, tag)
    if plus_tag(address, [account_email]) != tag:
        raise ValidationError(f"{account_email} cannot carry a send-later tag")
    return LaterChoice(address, said)


def tag_address(account_email: str, tag: str) -> str:
    """me@example.com + "2w" -> me+2w@example.com."""
    local, _, domain = account_email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}+{tag}@{domain}"


def without_tags(bcc: Iterable[str], account_email: str) -> list[str]:
    """The draft's Bcc without any follow-up tag of this user (a choice replaces the last one;
    "Remove" takes it out). Other addresses stay as the user typed them."""
    kept = []
    for address in bcc:
        tag = plus_tag(address, [account_email])
        if is_later_tag(tag):
            continue  # a send-later tag: the choice replaces it too
        if tag is not None and tag != schedule.PLUS_RESERVED:
            try:
                schedule.parse_plus_tag(tag)
                continue
            except ValidationError:
                pass  # not a schedule: not ours to remove
        kept.append(address)
    return kept
