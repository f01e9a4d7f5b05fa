"""The daily send cap on the Accounts page: "12 of 200 today", and the user's override
(POST /settings/accounts/<id>/send-cap). The cap itself is watcher.send_caps."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from watcher import send_caps
from watcher.errors import ValidationError

from . import auth
from .auth import login_required
from .forms import ConfirmForm
from .settings import _own_account, bp


@bp.post("/accounts/<int:account_id>/send-cap")
@login_required
def send_cap(account_id: int):
    """A number, or empty for the provider's default."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    store = auth.store()
    try:
        value = send_caps.parse_cap(request.form.get("cap", ""))
    except ValidationError as e:
        flash(f"Nothing changed: {e.message}.", "error")
        return redirect(url_for("settings.accounts"), 303)
    with store.session() as s:
        account = _own_account(s, account_id)
        account.daily_send_cap = value
        s.flush()
        cap = send_caps.status(s, account, auth.now())
        email = account.email
    source = "your setting" if cap.overridden else f"the default for {cap.provider.name}"
    flash(
        f"{email}: at most {cap.cap} messages a day ({source}); later bumps wait for the next day.",
        "ok",
    )
    return redirect(url_for("settings.accounts"), 303)
