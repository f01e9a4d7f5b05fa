"""Snoozing a follow-up from its page: quick picks, a typed time, and never earlier unasked.

Quick picks are absolute local times, worked out here when the page is drawn: tomorrow 09:00,
next Monday 09:00, and one week after the bump's current time (not after now: "snooze a week"
must never bring a bump forward). A typed time that lies before the bump's current time is
refused until the user ticks "bring it forward", so a snooze never sends earlier by surprise.
Routes hang on the settings blueprint; follow-ups are reached through the user's scope only.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import flash, redirect, request, url_for

from watcher import followups as fu_ops
from watcher import schedule
from watcher.errors import ReplywatchError

from . import auth
from .auth import current_user, login_required
from .fields import mark
from .forms import SnoozeForm
from .settings import _own_followup, bp, followup

WORK_START = time(9, 0)


def _at(day, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, WORK_START, tzinfo=zone)


def quick_picks(now: datetime, due: datetime | None, tz: str) -> list[tuple[str, str, bool]]:
    """(label, value for the "until" field, earlier) of each quick pick: tomorrow 09:00, next
    Monday 09:00, a week after the bump's time. Values are local times the snooze parser reads
    back exactly; `earlier` marks a pick before the bump's time (it brings the bump forward, so
    the page offers it apart, saying so). Picks not in the future are left out."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    picks = [("Tomorrow 09:00", _at(today + timedelta(days=1), zone))]
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    picks.append(("Monday 09:00", _at(monday, zone)))
    if due is not None:
        picks.append(("1 week later", due.astimezone(zone) + timedelta(weeks=1)))
    out = []
    for label, when in sorted(picks, key=lambda p: p[1]):
        if when <= now or (due is not None and when == due):
            continue
        shown = f"{label} ({when.strftime('%a %d %b %H:%M')})"
        out.append((shown, when.strftime("%Y-%m-%d %H:%M"), due is not None and when < due))
    return out


@bp.post("/followups/<int:followup_id>/snooze")
@login_required
def snooze(followup_id: int):
    store, now, user = auth.store(), auth.now(), current_user()
    form = SnoozeForm()
    earlier_ok = request.form.get("earlier") == "yes"
    with store.session() as s:
        f = _own_followup(s, followup_id)
        if form.validate_on_submit():
            try:
                until = schedule.parse_when(form.until.data, now, user.timezone)
                due = f.due_at
                if due is not None and until < due and not earlier_ok:
                    mark(
                        form.until,
                        f"{fu_ops.format_local(until, user.timezone)} is before the bump is due "
                        f"({fu_ops.format_local(due, user.timezone)}): that would send it "
                        "sooner. Tick “bring it forward” to do that, or pick a later time",
                    )
                    form.earlier_needed = True
                else:
                    fu_ops.snooze_followup(store, s, f, until, now, user.timezone)
            except ReplywatchError as e:
                mark(form.until, e.message)
            if not form.until.errors:
                when = fu_ops.format_local(until, user.timezone)
                moved = "Brought forward to" if due is not None and until < due else "Snoozed until"
                flash(f"{moved} {when}.", "ok")
                return redirect(url_for("settings.followup", followup_id=followup_id), 303)
    return followup(followup_id, forms={"snooze": form}, status=400)
