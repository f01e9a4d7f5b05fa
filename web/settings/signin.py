"""Sign in with a password (or Google, when configured), and sign out."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for

from .. import auth
from ..forms import ConfirmForm, SigninForm
from .blueprint import bp
from .first_run import _setup_open


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    store, cfg = auth.store(), auth.config()
    with store.session() as s:
        if _setup_open(s):
            return redirect(url_for("settings.setup"))
        has_passwords = store.has_password_users(s)
    form = SigninForm()
    status = 200
    if request.method == "POST":
        email = (form.email.data or "").strip().lower()
        wait = auth.signin_wait(email)
        if wait:
            form.form_errors.append(
                f"Too many failed sign-ins from here. Wait {wait} seconds, then try again."
            )
            status = 429
        elif form.validate_on_submit():
            with store.session() as s:
                user = store.user_by_email(s, email)
            if auth.password_matches(user, form.password.data):
                auth.clear_signin_failures(email)
                auth.sign_in(user)
                return redirect(auth.safe_next(request.args.get("next")), 303)
            auth.record_signin_failure(email)
            form.form_errors.append("That e-mail address and password do not match.")
            status = 401
        else:
            status = 400
    return render_template(
        "settings/signin.html",
        form=form,
        has_passwords=has_passwords,
        # Whether to offer Google, nothing more: the public page shows no set-up details.
        missing=auth.missing_google_settings(cfg),
        insecure=_cookie_will_be_dropped(),
        next=auth.safe_next(request.args.get("next")),
    ), status


def _cookie_will_be_dropped() -> bool:
    """A plain-http base URL off localhost gets Secure cookies, which browsers will not keep
    over http: say so on the sign-in page instead of failing silently."""
    plain = auth.config().base_url.startswith("http://")
    return plain and bool(current_app.config["SESSION_COOKIE_SECURE"])


@bp.post("/signout")
def signout():
    ConfirmForm()  # the CSRF check ran already (CSRFProtect); nothing else to read
    auth.sign_out()
    flash("Signed out.", "ok")
    return redirect(url_for("settings.signin"), 303)
