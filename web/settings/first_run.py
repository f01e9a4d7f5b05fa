"""First run without Google: the owner's local account, with a password."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from watcher.models import User

from .. import auth
from ..forms import SetupForm
from .blueprint import bp


def _setup_open(s) -> bool:
    """First run: no user at all yet and Google sign-in not configured. Once anyone exists
    (a Google user included) it stays closed; the operator sets passwords with the CLI."""
    return not auth.store().has_users(s) and bool(auth.missing_google_settings(auth.config()))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """First run without Google: create the local user (the owner) with a password."""
    store = auth.store()
    with store.session() as s:
        if not _setup_open(s):
            return redirect(url_for("settings.signin"))
    form = SetupForm()
    status = 200
    if request.method == "POST":
        if auth.login_blocked("setup"):
            form.form_errors.append("Too many attempts. Wait 15 minutes, then try again.")
            status = 429
        elif form.validate_on_submit():
            with store.session() as s:
                if not _setup_open(s):  # someone else finished first-run meanwhile
                    abort(404)
                # A new row only: setup never hands a password to a user who exists.
                user = User(email=form.email.data.strip().lower())
                user.password_hash = auth.hash_password(form.password.data)
                s.add(user)
                s.flush()
            auth.sign_in(user)
            flash("Welcome. Connect a mailbox to start following up.", "ok")
            return redirect(url_for("settings.accounts"), 303)
        else:
            auth.record_failure("setup")
            status = 400
    return render_template(
        "settings/setup.html", form=form, missing=auth.missing_google_settings(auth.config())
    ), status
