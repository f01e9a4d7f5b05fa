"""What the faces (CLI, settings page) do to scheduled sends: list, move, cancel, send now.

They never send mail: they change the row and write an Event; the watcher's next pass does
the rest. Only a send that is still SCHEDULED (or HELD: kept as a draft because they wrote
first) can be changed; one being sent or sent is history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..errors import ConflictError, NotFoundError
from ..followups import format_local
from ..models import User
from ..schedule import parse_plus_tag, parse_when
from ..store import later as store_later
from .model import CANCELLED, HELD, SCHEDULED, ScheduledSend

CHANGEABLE = (SCHEDULED, HELD)


def get(s: Session, user_id: int, send_id: int) -> ScheduledSend:
    row = store_later.of_user(s, user_id, send_id)
    if row is None:
        raise NotFoundError(f"no scheduled send {send_id}")
    return row


def _changeable(row: ScheduledSend, what: str) -> None:
    if row.state not in CHANGEABLE:
        raise ConflictError(f"scheduled send {row.id} is {row.state}: it cannot be {what}")


def cancel(store, s: Session, user_id: int, send_id: int, now: datetime) -> ScheduledSend:
    """Forget the schedule; the draft stays in Drafts as it is (tag included: the user may send
    it by hand, and Replywatch takes a later-tagged draft only when it is saved again)."""
    row = get(s, user_id, send_id)
    _changeable(row, "cancelled")
    row.state, row.updated_at = CANCELLED, now
    row.note = "cancelled by you; the draft stays in your drafts"
    _event(store, s, row, "later_cancelled", row.note, now)
    return row


def move(store, s: Session, user_id: int, send_id: int, when: str, now: datetime) -> ScheduledSend:
    """A new time ("3d", "2026-12-20 14:30"); a held send is scheduled again from now."""
    row = get(s, user_id, send_id)
    _changeable(row, "moved")
    tz = s.get(User, user_id).timezone
    row.send_at = parse_when(when, now, tz)
    if row.state == HELD:
        row.scheduled_at = now  # "unless they write first" counts from now on
    row.state, row.updated_at, row.note = SCHEDULED, now, ""
    _event(store, s, row, "later_moved", f"will be sent {format_local(row.send_at, tz)}", now)
    return row


def send_now(store, s: Session, user_id: int, send_id: int, now: datetime) -> ScheduledSend:
    """Due now: the watcher's next pass sends it (still only if nobody wrote first, unless it
    was held for that: then the user has seen their message and decided)."""
    row = get(s, user_id, send_id)
    _changeable(row, "sent now")
    if row.state == HELD:
        row.unless_reply = False
    row.state, row.send_at, row.updated_at, row.note = SCHEDULED, now, now, ""
    row.draft_seen_at = min(row.draft_seen_at, now)
    _event(store, s, row, "later_send_now", "goes out at the watcher's next pass", now)
    return row


def set_then(
    store, s: Session, user_id: int, send_id: int, then: str, now: datetime
) -> ScheduledSend:
    """The follow-up once it is sent: a plus tag like "1w" or "3d-1w-remind"; "" or "none"
    for none."""
    row = get(s, user_id, send_id)
    _changeable(row, "changed")
    then = then.strip().lower()
    if then in ("", "none"):
        row.then_tag = None
        detail = "gets no follow-up after it is sent"
    else:
        row.then_tag = str(parse_plus_tag(then))
        detail = f"gets a follow-up ({row.then_tag}) if nobody replies once it is sent"
    row.updated_at = now
    _event(store, s, row, "later_then", detail, now)
    return row


def describe(row: ScheduledSend, tz: str) -> dict:
    """One scheduled send as the faces show it."""
    return {
        "id": row.id,
        "subject": row.subject or "(no subject)",
        "to": ", ".join(row.recipients),
        "send_at": format_local(row.send_at, tz),
        "state": row.state,
        "unless_reply": row.unless_reply,
        "then": row.then_tag or "",
        "note": row.note,
        "changeable": row.state in CHANGEABLE,
    }


def _event(store, s: Session, row: ScheduledSend, kind: str, detail: str, now: datetime) -> None:
    store.add_event(
        s,
        user_id=row.user_id,
        account_id=row.account_id,
        kind=kind,
        detail=f"your scheduled message {row.subject!r} {detail}",
        message_id=row.message_id,
        at=now,
    )
