"""The settings page's "Recipients" view: where each correspondent lives, and the user's say.

Lists the signed-in user's correspondents (RecipientZone rows: learnt from the Date headers of
their mail, or set by the user) with the zone, where it came from, how old the latest
observation is and whose public holidays business days skip for them; each can be set to an
IANA zone or cleared back to what their mail says. Routes hang on the settings blueprint (web
imports this module before registering it); rows are reached only through queries scoped by the
user's id, so another user's row is "not found".
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional

from watcher import schedule
from watcher.errors import NotFoundError, ValidationError
from watcher.recipient_zone import holiday_country_of

from . import auth, zones
from .auth import current_user, login_required
from .fields import mark, sentence
from .forms import ADDRESS
from .paging import Page
from .settings import bp


class RecipientZoneForm(FlaskForm):
    """A zone for one correspondent; empty means "what their mail says"."""

    zone = StringField("Time zone", validators=[Optional(), Length(max=64)])


class NewRecipientForm(RecipientZoneForm):
    address = StringField("E-mail address", validators=[ADDRESS, Length(max=320)])


def age(then: datetime | None, now: datetime) -> str:
    """How long ago, as a person says it: "today", "3 days ago", "2 months ago"."""
    if then is None:
        return "never"
    days = max((now - then).days, 0)
    if days == 0:
        return "today"
    for size, unit in ((365, "year"), (30, "month"), (7, "week"), (1, "day")):
        if days >= size:
            n = days // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "today"  # not reached: days >= 1 matched above


def latest_observation(row) -> datetime | None:
    seen = [datetime.fromisoformat(t) for t, _ in (row.observations or [])]
    return max(seen) if seen else None


def _checked_zone(text: str | None) -> str | None:
    """The typed zone as its IANA name (any case; "Berlin" raises zones.UnknownZone with
    Europe/Berlin suggested); None for "clear my choice"."""
    zone = (text or "").strip()
    if not zone:
        return None
    zone = zones.resolve(zone)
    schedule.working_hours(zone)  # a zone the holiday and window code can use
    return zone


def _view(row, now: datetime) -> dict:
    seen = latest_observation(row)
    return {
        "id": row.id,
        "address": row.address,
        "zone": row.zone,
        "inferred": row.inferred_zone,
        "override": row.override_zone,
        "source": row.source,
        "seen": seen,
        "seen_age": age(seen, now),
        "scanned": row.scanned_at,
        "observations": len(row.observations or []),
        "country": holiday_country_of(row.zone),
    }


def _render(
    status: int = 200,
    new_form: NewRecipientForm | None = None,
    error: str = "",
    row_error: dict | None = None,
    new_suggestions: list[str] | None = None,
):
    user, store, now = current_user(), auth.store(), auth.now()
    search = request.args.get("q", "").strip()[:320]
    with store.session() as s:
        page = Page.of(store.count_recipient_zones(s, user.id, search))
        found = store.recipient_zones(
            s, user.id, search=search, offset=page.offset, limit=page.size
        )
        rows = [_view(r, now) for r in found]
    return render_template(
        "settings/recipients.html",
        rows=rows,
        search=search,
        page=page,
        zones=zones.short_list(now, user.timezone),
        new_form=new_form or NewRecipientForm(formdata=None),
        error=error,
        row_error=row_error,
        new_suggestions=new_suggestions or [],
        user_zone=user.timezone,
        user_country=user.holiday_country,
        recipient_mode=user.window_mode == "recipient",
    ), status


@bp.get("/recipients")
@login_required
def recipients():
    return _render()


@bp.post("/recipients")
@login_required
def add_recipient():
    """Set the zone of someone not listed yet (no mail from them so far)."""
    form = NewRecipientForm()
    if not form.validate_on_submit():
        return _render(400, form)
    user, store = current_user(), auth.store()
    address = form.address.data.strip().lower()
    picked = request.form.get("zone_pick", "").strip()  # a "Use Europe/Berlin" suggestion
    if picked:
        form.zone.data = picked
    try:
        zone = _checked_zone(form.zone.data)
        if zone is None:
            raise ValidationError("pick a time zone for them")
    except ValidationError as e:
        mark(form.zone, e.message)  # next to the field; what was typed stays in it
        return _render(400, form, new_suggestions=getattr(e, "suggestions", []))
    with store.session() as s:
        store.set_recipient_zone(s, user.id, address, zone, auth.now())
    flash(f"{address} now counts as living in {zone}.", "ok")
    return redirect(url_for("settings.recipients"), 303)


@bp.post("/recipients/<int:row_id>")
@login_required
def set_recipient(row_id: int):
    form = RecipientZoneForm()
    if not form.validate_on_submit():
        return _render(400, error="That zone could not be read; pick one from the list.")
    user, store = current_user(), auth.store()
    try:
        zone = _checked_zone(form.zone.data)
    except ValidationError as e:
        with store.session() as s:  # 404 for another user's row, before saying anything
            try:
                store.recipient_zone_by_id(s, user.id, row_id)
            except NotFoundError:
                abort(404)
        problem = {
            "id": row_id,
            "typed": form.zone.data or "",
            "message": sentence(e.message),
            "suggestions": getattr(e, "suggestions", []),
        }
        return _render(400, row_error=problem)
    with store.session() as s:
        try:
            row = store.recipient_zone_by_id(s, user.id, row_id)
        except NotFoundError:
            abort(404)
        store.set_recipient_zone(s, user.id, row.address, zone, auth.now())
        address, now_zone = row.address, row.zone
    if zone is None:
        shown = now_zone or f"your own zone ({user.timezone}) until their mail tells"
        flash(f"{address}: back to what their mail says, {shown}.", "ok")
    else:
        flash(f"{address} now counts as living in {zone}.", "ok")
    return redirect(url_for("settings.recipients"), 303)
