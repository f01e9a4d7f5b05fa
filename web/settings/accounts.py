"""The accounts page, and its buttons: check the login again, folder triggers on/off."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for

from watcher import send_caps
from watcher.errors import PermanentError, ReplywatchError
from watcher.mailbox import open_mailbox
from watcher.models import AccountStatus, FollowUpState

from .. import auth
from ..auth import current_user, login_required
from ..forms import ConfirmForm
from .blueprint import bp
from .common import _own_account, _sentence


@bp.get("/accounts")
@login_required
def accounts():
    user, store, cfg = current_user(), auth.store(), auth.config()
    with store.session() as s:
        items = store.list_accounts(s, user.id)
        history = {a.id: store.account_events(s, a.id, limit=5) for a in items}
        counts = store.followup_counts(s, user.id)
        waiting = {a.id: counts.get(a.id, {}).get(FollowUpState.ACTIVE, 0) for a in items}
        caps = {a.id: send_caps.status(s, a, auth.now()) for a in items}
    return render_template(
        "settings/accounts.html",
        items=items,
        history=history,
        waiting=waiting,
        caps=caps,
        missing=auth.missing_google_settings(cfg),
        # The operator's Google set-up (variable names, redirect URI) is for the owner only.
        is_owner=auth.is_owner(user),
        redirect_uri=auth.google_redirect_uri(cfg),
        action_form=ConfirmForm(),
    )


@bp.post("/accounts/<int:account_id>/check")
@login_required
def check(account_id: int):
    store, cfg = auth.store(), auth.config()
    with store.session() as s:
        account = _own_account(s, account_id)
        if account.status == AccountStatus.DISABLED or not account.secret:
            flash("That account is disconnected: reconnect it instead.", "error")
            return redirect(url_for("settings.accounts"), 303)
        spec = store.account_spec(account)
    try:
        with open_mailbox(spec, cfg) as mailbox:
            mailbox.check()
    except ReplywatchError as e:
        store.mark_account_failed(
            account_id,
            e.message,
            permanent=isinstance(e, PermanentError),
            now=auth.now(),
            backoff=timedelta(seconds=cfg.account_backoff_seconds),
        )
        flash(f"{spec.email}: {_sentence(e.message)}", "error")
    else:
        store.mark_account_ok(account_id, auth.now())
        flash(f"{spec.email} works: waiting follow-ups go ahead.", "ok")
    return redirect(url_for("settings.accounts"), 303)


@bp.post("/accounts/<int:account_id>/triggers")
@login_required
def triggers(account_id: int):
    """Folder/label triggers on or off (Replywatch/3 days, /1 week, /2 weeks, /Bumps)."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    on = request.form.get("switch") == "on"
    store = auth.store()
    with store.session() as s:
        account = _own_account(s, account_id)
        store.set_trigger_folders(s, account, on, auth.now())
        email = account.email
    if on:
        where = "labels" if account.kind == "gmail" else "folders"
        flash(
            f"{email}: Replywatch {where} are on: the watcher creates them on its next check.",
            "ok",
        )
    else:
        flash(f"{email}: Replywatch folders are off (plus-addresses still work).", "ok")
    return redirect(url_for("settings.accounts"), 303)
