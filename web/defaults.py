"""The settings page's "Defaults": timing, sending window, time zone, bump text, reply policies.

Every field is checked at once (web.fields): a form with three bad fields comes back with three
marked errors and everything typed kept. The time zone is typed or picked from a short list
(web.zones); on the first page view after sign-in the browser's zone is taken, once, while the
user never chose one (User.timezone_source), so times are never shown in UTC by mistake. Routes
hang on the settings blueprint.
"""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for

from watcher import schedule
from watcher.compose import render_text
from watcher.errors import ReplywatchError, ValidationError

from . import auth, zones
from .auth import current_user, login_required
from .fields import check, has_errors, mark, sentence
from .forms import ConfirmForm, DefaultsForm
from .settings import PREVIEW_SAMPLE, bp

DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _split_hours(hours: str) -> tuple[str, str]:
    start, _, end = hours.partition("-")
    return start.strip(), end.strip()


def _days_list(text: str) -> list[str]:
    window = schedule.SendingWindow.parse("UTC", text, "09:00-17:00")
    return [DAY_NAMES[d] for d in sorted(window.days)]


@bp.route("/defaults", methods=["GET", "POST"])
@login_required
def defaults():
    user = current_user()
    if request.method == "GET":
        start, end = _split_hours(user.send_hours)
        form = DefaultsForm(
            formdata=None,
            delay=user.default_delay,
            template=user.bump_template,
            days=_days_list(user.send_days),
            hours_start=start,
            hours_end="00:00" if end in ("24:00", "23:59") else end,
            timezone=user.timezone,
            holiday_country=user.holiday_country or "",
            window_mode=user.window_mode,
            replier_policy=user.replier_policy,
            ooo_policy=getattr(user, "ooo_policy", "pause"),
            own_message_policy=user.own_message_policy,
        )
        return _render(form, user)
    form = DefaultsForm()
    form.validate_on_submit()  # shape (and the radio choices); meaning below, every field
    values = _checked(form)
    if has_errors(form):
        return _render(form, user), 400
    with auth.store().session() as s:
        row = auth.store().get_user(s, user.id)
        row.default_delay = values["delay"]
        row.bump_template = form.template.data.replace("\r\n", "\n")
        row.send_days, row.send_hours = values["days"], values["hours"]
        row.timezone, row.holiday_country = values["timezone"], values["holidays"]
        row.timezone_source = "you"
        row.window_mode = form.window_mode.data
        row.replier_policy = form.replier_policy.data
        row.ooo_policy = form.ooo_policy.data
        row.own_message_policy = form.own_message_policy.data
    flash("Defaults saved. They apply to follow-ups you create from now on.", "ok")
    return redirect(url_for("settings.defaults"), 303)


def _checked(form: DefaultsForm) -> dict:
    """Each field through its own parser; a bad one is marked, the others still checked."""
    values = {
        "delay": check(form.delay, lambda v: str(schedule.parse_delay(v or ""))),
        "timezone": check(form.timezone, zones.resolve),
        "holidays": check(
            form.holiday_country,
            lambda v: _holidays((v or "").strip().upper() or None),
        ),
    }
    check(form.template, lambda v: render_text(v or "", **PREVIEW_SAMPLE))
    days = ",".join(form.days.data or [])
    if not days:
        mark(form.days, "Pick at least one sending day")
    values["days"] = days
    end = (form.hours_end.data or "").strip()
    hours = f"{(form.hours_start.data or '').strip()}-{'24:00' if end == '00:00' else end}"
    if not (form.hours_start.errors or form.hours_end.errors):
        try:
            schedule.SendingWindow.parse("UTC", "mon", hours)
        except ValidationError as e:
            mark(form.hours_start, e.message)
    values["hours"] = hours
    return values


def _holidays(code: str | None) -> str | None:
    if code:
        schedule.SendingWindow.parse("UTC", "mon", "09:00-17:00", code)
    return code


def _render(form: DefaultsForm, user):
    try:
        preview, preview_error = render_text(form.template.data or "", **PREVIEW_SAMPLE), ""
    except ReplywatchError as e:
        preview, preview_error = "", sentence(e.message)
    try:
        window = schedule.SendingWindow.parse(
            user.timezone, user.send_days, user.send_hours, user.holiday_country
        ).describe()
    except ReplywatchError:
        window = ""
    return render_template(
        "settings/defaults.html",
        form=form,
        zones=zones.short_list(auth.now(), user.timezone, form.timezone.data),
        zone_hint=zone_hint(),
        preview=preview,
        preview_error=preview_error,
        window=window,
        sample=PREVIEW_SAMPLE,
        delay_hint=f"Use {schedule.DELAY_FORMS}.",
    )


def zone_hint() -> str:
    return "Type a city or a country's zone (Berlin, New York, Tokyo) and pick it from the list."


@bp.get("/defaults/preview")
@login_required
def preview():
    """The bump text with sample values (the page's live preview); changes nothing."""
    try:
        text = render_text(request.args.get("template", "")[:5000], **PREVIEW_SAMPLE)
    except ReplywatchError as e:
        return jsonify(error=sentence(e.message)), 400
    return jsonify(text=text)


@bp.post("/timezone/browser")
@login_required
def browser_zone():
    """The browser's zone, sent by the page once: taken only while the user never chose one
    (a new user's UTC default). Answers whether it was taken, so the page can redraw."""
    if not ConfirmForm().validate_on_submit():
        return jsonify(taken=False), 400
    user = current_user()
    try:
        zone = zones.resolve(request.form.get("zone", "")[:64])
    except ValidationError:
        return jsonify(taken=False)
    with auth.store().session() as s:
        row = auth.store().get_user(s, user.id)
        if row.timezone_source or row.timezone != "UTC":
            return jsonify(taken=False)
        row.timezone, row.timezone_source = zone, "browser"
    if zone != "UTC":
        flash(
            f"Times are shown in {zone}, your browser's time zone; change it in Defaults.",
            "ok",
        )
    return jsonify(taken=zone != "UTC", zone=zone)
