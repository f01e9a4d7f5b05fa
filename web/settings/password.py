"""Set or change the local password; every other session ends."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from .. import auth
from ..auth import current_user, login_required
from ..forms import PasswordForm
from .blueprint import bp


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Set or change the local password (a Google user may add one); other sessions end."""
    user, store = current_user(), auth.store()
    form = PasswordForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            if user.password_hash and not auth.password_matches(user, form.current.data or ""):
                form.current.errors = ["That is not your current password."]
            else:
                with store.session() as s:
                    row = store.get_user(s, user.id)
                    row.password_hash = auth.hash_password(form.password.data)
                    auth.end_every_session(s, user.id)
                auth.sign_in(row)  # this browser stays signed in; every other session ends
                flash("Password changed. Every other session was signed out.", "ok")
                return redirect(url_for("settings.password"), 303)
    return render_template(
        "settings/password.html", form=form, has_password=bool(user.password_hash)
    ), status
