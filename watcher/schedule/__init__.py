"""Pure time arithmetic: delays, business days, sending windows, IANA zones with DST.

Everything stored is UTC. A zone is used only to decide what "in 3 days", "Mon-Fri 09:00-17:00"
or "2026-12-01" mean to the user, so every function takes UTC-aware datetimes and returns them.

Two DST rules hold throughout, so results never depend on which function got there:
- a local wall time that does not exist (spring-forward gap) becomes the first instant after the
  gap, e.g. 02:30 on 2026-03-29 in Europe/Berlin becomes 03:00 CEST;
- a local wall time that happens twice (fall-back) means its first occurrence (fold=0).

One module per job; dependencies point down the list, and callers import from here:

    zones.py       IANA zones and the two DST rules (wall time <-> UTC)
    delays.py      Delay, parse_delay; add_delay with business days and holiday calendars
    windows.py     SendingWindow, next_in_window, due_time; spreading overdue bumps
    dates.py       parse_when: a user's "snooze until" / "follow up on", and its hints
    human_time.py  the recipient's working hours, next_in_both, a stable jitter
    plus_tags.py   the me+TAG@… grammar: parse_plus_tag, PlusTag
"""

from .dates import date_forms, example_date, parse_when, when_forms
from .delays import (
    DELAY_FORMS,
    Delay,
    _holidays,
    _is_business_day,
    _read_delay,
    add_delay,
    holiday_union,
    parse_delay,
)
from .human_time import (
    MEET_HORIZON,
    WORKING_DAYS,
    WORKING_END,
    WORKING_START,
    jitter,
    jittered,
    next_in_both,
    working_hours,
)
from .plus_tags import PLUS_HELP, PLUS_MAX_STAGES, PLUS_RESERVED, PlusTag, parse_plus_tag
from .windows import ALWAYS, SendingWindow, due_time, next_in_window, spread_overdue
from .zones import _require_aware, _to_utc, _wall, _zone

__all__ = [
    "ALWAYS",
    "DELAY_FORMS",
    "MEET_HORIZON",
    "PLUS_HELP",
    "PLUS_MAX_STAGES",
    "PLUS_RESERVED",
    "WORKING_DAYS",
    "WORKING_END",
    "WORKING_START",
    "Delay",
    "PlusTag",
    "SendingWindow",
    "_holidays",
    "_is_business_day",
    "_read_delay",
    "_require_aware",
    "_to_utc",
    "_wall",
    "_zone",
    "add_delay",
    "date_forms",
    "due_time",
    "example_date",
    "holiday_union",
    "jitter",
    "jittered",
    "next_in_both",
    "next_in_window",
    "parse_delay",
    "parse_plus_tag",
    "parse_when",
    "spread_overdue",
    "when_forms",
    "working_hours",
]
