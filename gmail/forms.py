"""Pure: the add-on's form fields, their choices, and submitted values -> follow-up requests.

cards.py draws these fields; addon.py reads them back through the functions here. Errors a user
can fix (a date in the past, a text too long) are ValidationError and come back as a
notification; a form that Google would never send is events.BadEvent (400).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from watcher import schedule
from watcher.errors import ValidationError
from watcher.followups import StageSpec
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
