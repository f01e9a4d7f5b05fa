"""Disconnect an account: its credentials deleted (a Google token revoked), its follow-ups
kept or deleted."""

from __future__ import annotations

import json

from flask import flash, redirect, render_template, request, url_for

from watcher.models import AccountStatus, FollowUpState

from .. import auth
from ..auth import current_user, login_required
from ..forms import DisconnectForm
from .blueprint import bp
from .common import _own_account


@bp.route("/accounts/<int:account_id>/disconnect", methods=["GET", "POST"])
@login_required
def disconnect(account_id: int):
    from gmail.oauth import revoke_refresh_token  # here: gmail.oauth imports web.auth

    store, cfg, user = auth.store(), auth.config(), current_user()
    with store.session() as s:
        account = _own_account(s, account_id)
        email, kind = account.email, account.kind
        secret = store.account_spec(account).secret if account.secret else ""
        by_state = store.followup_counts(s, user.id).get(account_id, {})
        counts = {
            "active": by_state.get(FollowUpState.ACTIVE, 0),
            "all": sum(by_state.values()),
        }
    form = DisconnectForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template(
            "settings/disconnect.html",
            form=form,
            email=email,
            kind=kind,
            counts=counts,
            account_id=account_id,
        ), status
    revoked = True
    if kind == "gmail" and secret:
        token = json.loads(secret).get("refresh_token", "") if secret.startswith("{") else secret
        revoked = revoke_refresh_token(cfg, token)
    with store.session() as s:
        account = _own_account(s, account_id)
        deleted = 0
        if form.followups.data == "delete":
            deleted = store.delete_followups_of_account(s, account.id, user.id)
        if account.status != AccountStatus.DISABLED:
            store.disable_account(s, account, auth.now())
    message = f"Disconnected {email}; its stored credentials were deleted."
    if kind == "gmail":
        message += (
            " Google revoked Replywatch's access."
            if revoked
            else " Google did not confirm the revocation: remove Replywatch at "
            "myaccount.google.com/permissions."
        )
    if deleted:
        message += f" {deleted} follow-up(s) deleted."
    flash(message, "ok" if revoked else "error")
    return redirect(url_for("settings.accounts"), 303)
