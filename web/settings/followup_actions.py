"""What the follow-up page posts: cancel, the word on an unconfirmed bump, edit the bumps."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from watcher import followups as fu_ops
from watcher.compose import render_text
from watcher.errors import ReplywatchError
from watcher.models import StageState

from .. import auth
from ..auth import current_user, login_required
from ..forms import ConfirmForm, EditForm
from .blueprint import bp
from .common import PREVIEW_SAMPLE, _own_followup, _sentence
from .followup_detail import followup


@bp.post("/followups/<int:followup_id>/cancel")
@login_required
def cancel(followup_id: int):
    store = auth.store()
    with store.session() as s:
        f = _own_followup(s, followup_id)
        try:
            fu_ops.cancel_followup(store, s, f, auth.now())
        except ReplywatchError as e:
            flash(_sentence(e.message), "error")
            return redirect(url_for("settings.followup", followup_id=followup_id), 303)
    flash("Cancelled. Nothing more will be sent for this message.", "ok")
    return redirect(url_for("settings.followup", followup_id=followup_id), 303)


@bp.post("/followups/<int:followup_id>/unconfirmed")
@login_required
def unconfirmed(followup_id: int):
    """The user's word on a bump whose hand-over broke off: it went out, or send it again."""
    form = ConfirmForm()
    if not form.validate_on_submit() or request.form.get("went_out") not in ("yes", "no"):
        abort(400)
    went_out = request.form["went_out"] == "yes"
    store = auth.store()
    with store.session() as s:
        f = _own_followup(s, followup_id)
        try:
            stage = fu_ops.settle_unconfirmed(store, s, f, went_out=went_out, now=auth.now())
        except ReplywatchError as e:
            flash(_sentence(e.message), "error")
            return redirect(url_for("settings.followup", followup_id=followup_id), 303)
        position = stage.position
        when = fu_ops.format_local(f.due_at, f.account.user.timezone)
    if went_out:
        flash(f"Noted: bump {position} went out.", "ok")
    else:
        flash(f"Bump {position} goes out again {when}, unless someone replies first.", "ok")
    return redirect(url_for("settings.followup", followup_id=followup_id), 303)


@bp.post("/followups/<int:followup_id>/edit")
@login_required
def edit(followup_id: int):
    store, now, user = auth.store(), auth.now(), current_user()
    form = EditForm()
    values: dict[int, tuple[str, str]] = {}
    problems: dict[str, str] = {}  # "stage-2-when" -> its message: every field at once
    with store.session() as s:
        f = _own_followup(s, followup_id)
        if form.validate_on_submit():
            specs = {}
            for st in f.stages:
                if st.state != StageState.PENDING:
                    continue
                key = f"stage-{st.position}"
                when = request.form.get(f"{key}-when", "").strip()
                text = request.form.get(f"{key}-text", "").strip()
                values[st.position] = (when, text)
                try:
                    if text:
                        render_text(text, **PREVIEW_SAMPLE)
                except ReplywatchError as e:
                    problems[f"{key}-text"] = _sentence(e.message)
                try:
                    spec = fu_ops.parse_stage(when, now, user.timezone)
                    specs[st.position] = fu_ops.StageSpec(
                        delay=spec.delay, at=spec.at, text=text or None
                    )
                except ReplywatchError as e:
                    problems[f"{key}-when"] = _sentence(e.message)
            try:
                if not problems:
                    fu_ops.edit_stages(
                        store,
                        s,
                        f,
                        stages=specs,
                        replier_policy=form.replier_policy.data,
                        mode=form.mode.data or None,
                        now=now,
                        jitter_minutes=auth.config().send_jitter_minutes,
                    )
            except ReplywatchError as e:
                form.form_errors.append(_sentence(e.message))
            else:
                if not problems:
                    flash("Saved. The schedule below is up to date.", "ok")
                    return redirect(url_for("settings.followup", followup_id=followup_id), 303)
                form.form_errors.append(
                    f"{len(problems)} field{'s' if len(problems) != 1 else ''} of the bumps "
                    "need fixing (marked below)."
                )
    return followup(
        followup_id,
        forms={"edit": form, "stage_values": values, "stage_errors": problems},
        status=400,
    )
