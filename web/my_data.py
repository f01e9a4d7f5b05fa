"""My data (/settings/my-data): download everything of yours as JSON, or delete your user and
everything of it (watcher.user_data does both; this is the page around it).

Deleting asks for the address typed again (it works for password and Google sign-ins alike),
names what goes on the confirmation, carries the CSRF token, and ends the session."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, session, url_for

from watcher import user_data

from .auth import config, current_user, login_required, now, store
from .forms import DeleteEverythingForm
from .settings import bp


@bp.get("/my-data")
@login_required
def my_data(form: DeleteEverythingForm | None = None, status: int = 200):
    user = current_user()
    with store().session() as s:
        what = user_data.holdings(s, user.id)
    form = form or DeleteEverythingForm()
    return render_template("settings/my_data.html", form=form, what=what), status


@bp.get("/my-data/export.json")
@login_required
def export_data():
    user = current_user()
    body = user_data.export_json(store(), user.id, now())
    stamp = now().strftime("%Y-%m-%d")
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="replywatch-{stamp}.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/my-data/delete")
@login_required
def delete_everything():
    user = current_user()
    form = DeleteEverythingForm()
    if not form.validate_on_submit():
        return my_data(form, 400)
    if form.address.data.strip().lower() != user.email.lower():
        form.address.errors.append(f"That is not {user.email}: nothing was deleted.")
        return my_data(form, 400)
    done = user_data.delete_user(store(), config(), user.id)
    session.clear()
    flash(f"{done.email} and everything of it were deleted.", "ok")
    if done.not_revoked:
        flash(
            f"Google did not confirm the revocation for {', '.join(done.not_revoked)}: remove "
            "Replywatch at myaccount.google.com/permissions.",
            "error",
        )
    return redirect(url_for("settings.signin"), 303)
