"""When a follow-up's stage falls due: the user's sending window, the recipient's zone and
working hours, business days, jitter; and how such a time reads in the user's zone.

Shared by the faces (watcher.followups, which re-exports these names) and the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from . import schedule
from .models import FollowUp, Stage, User
from .recipient_zone import holiday_country_of
from .store import Store


def user_window(user: User) -> schedule.SendingWindow:
    return schedule.SendingWindow.parse(
        user.timezone, user.send_days, user.send_hours, user.holiday_country
    )


def stage_due(stage: Stage, base: datetime, user: User) -> datetime:
    """When a stage falls due, counted from `base` (the previous message or a restart), in the
    user's own window and without jitter. The faces and the engine use `plan_stage`."""
    if stage.at is not None:
        return stage.at  # a date the user picked is kept as picked
    return schedule.due_time(
        base, schedule.parse_delay(stage.delay), user_window(user), user.holiday_country
    )


@dataclass(frozen=True)
class DuePlan:
    """When a stage goes out, and why the recipient's hours could not be kept (if so)."""

    at: datetime
    note: str = ""
    late: bool = False  # the delay had already run out: due at the next chance


def recipient_of(followup: FollowUp) -> str | None:
    """Whose hours a bump keeps: the first person in To (else Cc)."""
    addrs = [*followup.to_addrs, *followup.cc_addrs]
    return addrs[0].lower() if addrs else None


def recipient_zone_of(store: Store, s: Session, followup: FollowUp) -> tuple[str | None, str]:
    """(zone, where it came from) of the follow-up's recipient; zone None if unknown."""
    address = recipient_of(followup)
    row = store.recipient_zone(s, followup.user_id, address) if address else None
    if row is None or row.zone is None:
        return None, "unknown"
    return row.zone, row.source


def plan_stage(
    store: Store,
    s: Session,
    followup: FollowUp,
    stage: Stage,
    base: datetime,
    user: User,
    *,
    jitter_minutes: int = 0,
    not_before: datetime | None = None,
) -> DuePlan:
    """When `stage` goes out, counted from `base`: the delay, then the next instant in the
    user's window (window_mode "recipient": also in the recipient's working hours), then a
    stable offset of up to `jitter_minutes` that stays inside the window(s). Business days
    skip the user's public holidays and, when the recipient's zone names a country, theirs.

    Nothing goes before `not_before` (now, for a stage scheduled late). A date the user
    picked is kept as picked.
    """
    if stage.at is not None:
        return DuePlan(stage.at)
    mine = user_window(user)
    delay = schedule.parse_delay(stage.delay)
    zone, _ = recipient_zone_of(store, s, followup)
    # Business days are nobody's day off: the recipient's country's holidays count too.
    their_holidays = holiday_country_of(zone) if delay.unit == "business_days" else None
    earliest = schedule.add_delay(
        base,
        delay,
        user.timezone,
        schedule.holiday_union(user.holiday_country, their_holidays),
    )
    late = not_before is not None and schedule.next_in_window(earliest, mine) < not_before
    if not_before is not None and earliest < not_before:
        earliest = not_before
    windows = [mine]
    note = ""
    if user.window_mode == "recipient":
        theirs = schedule.working_hours(zone or user.timezone, their_holidays)
        at = schedule.next_in_both(earliest, mine, theirs)
        if at is None:
            at = schedule.next_in_window(earliest, mine)
            who = recipient_of(followup) or "the recipient"
            note = (
                f"your sending window ({mine.describe()}) and the working hours of {who} "
                f"({theirs.describe()}) do not meet within "
                f"{schedule.MEET_HORIZON.days} days, so stage {stage.position} keeps your window"
            )
        else:
            windows.append(theirs)
    else:
        at = schedule.next_in_window(earliest, mine)
    if jitter_minutes > 0:
        offset = schedule.jitter(f"{followup.token}:{stage.position}", jitter_minutes)
        at = schedule.jittered(at, offset, *windows)
    return DuePlan(at, note, late)


def format_local(when: datetime | None, tz: str) -> str:
    if when is None:
        return "-"
    return when.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M %Z")
