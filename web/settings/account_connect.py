"""Connect an IMAP/SMTP mailbox, or reconnect one, tested before anything is saved."""

from __future__ import annotations

import json

from flask import flash, redirect, render_template, request, url_for

from watcher.errors import AuthFailed, ReplywatchError, ValidationError
from watcher.evidence import evidence_for
from watcher.imap.constants import DEFAULT_PORTS
from watcher.mailbox import AccountSpec, open_mailbox

from .. import auth
from ..auth import current_user, login_required
from ..forms import PRESETS, ImapForm
from .blueprint import bp
from .common import _own_account, _sentence

PRESETS_JSON = json.dumps(PRESETS)  # a plain str: WTForms escapes it into the data- attribute


def _imap_settings(form: ImapForm) -> dict:
    """Connection settings from the form, the chosen preset filling what was left empty."""
    preset = PRESETS.get(form.preset.data or "custom", PRESETS["custom"])
    email = form.email.data.strip().lower()
    out = {}
    for side in ("imap", "smtp"):
        host = (getattr(form, f"{side}_host").data or "").strip() or preset.get(f"{side}_host")
        if not host:
            raise ValidationError(f"enter the {side.upper()} server, or pick a provider")
        security = getattr(form, f"{side}_security").data
        port = getattr(form, f"{side}_port").data
        if not (getattr(form, f"{side}_host").data or "").strip() and preset.get(f"{side}_host"):
            security, port = preset[f"{side}_security"], preset[f"{side}_port"]
        out[f"{side}_host"] = host
        out[f"{side}_port"] = int(port or DEFAULT_PORTS[side][security])
        out[f"{side}_security"] = security
    out["imap_username"] = (form.imap_username.data or "").strip() or email
    out["smtp_username"] = (form.smtp_username.data or "").strip() or out["imap_username"]
    out["save_sent"] = "auto"
    out["send_evidence"] = preset.get("evidence") or evidence_for(out)
    return out


def _test_and_save_imap(form: ImapForm, account_id: int | None):
    """Log in to IMAP and SMTP with what was typed; save only if both work. Returns the
    response on success, None after putting the reason on the form."""
    user, store = current_user(), auth.store()
    if not auth.action_allowed(f"imap-test:user:{user.id}", 30):
        form.form_errors.append("Too many connection tests. Wait 15 minutes, then try again.")
        return None
    try:
        settings = _imap_settings(form)
        email = form.email.data.strip().lower()
        aliases = [a.strip() for a in (form.aliases.data or "").split(",") if a.strip()]
        secret = json.dumps(
            {
                "imap_password": form.password.data,
                "smtp_password": form.smtp_password.data or form.password.data,
            }
        )
        spec = AccountSpec(
            kind="imap", email=email, settings=settings, secret=secret, aliases=tuple(aliases)
        )
        # Test before anything is saved: a typo must not leave a broken account behind.
        with open_mailbox(spec, auth.config()) as mailbox:
            mailbox.check()
        with store.session() as s:
            if account_id is None:
                owner = store.get_user(s, user.id)
                store.add_account(
                    s,
                    owner,
                    kind="imap",
                    email=email,
                    settings=settings,
                    secret=secret,
                    display_name=(form.name.data or "").strip(),
                    aliases=aliases,
                    now=auth.now(),
                )
            else:
                account = _own_account(s, account_id)
                account.kind = "imap"
                account.aliases = sorted({a.lower() for a in aliases})
                if form.name.data:
                    account.display_name = form.name.data.strip()
                store.reconnect_account(
                    s, account, settings=settings, secret=secret, now=auth.now()
                )
    except AuthFailed as e:  # the password is what to fix: say so next to it
        form.password.errors = [*form.password.errors, _sentence(e.message)]
        return None
    except ReplywatchError as e:
        form.form_errors.append(_sentence(e.message))
        return None
    flash(f"Connected {email}: IMAP and SMTP sign-in both work.", "ok")
    return redirect(url_for("settings.accounts"), 303)


@bp.route("/accounts/imap", methods=["GET", "POST"])
@login_required
def connect_imap():
    form = ImapForm()
    if form.validate_on_submit():
        done = _test_and_save_imap(form, None)
        if done is not None:
            return done
    status = 400 if request.method == "POST" else 200
    return render_template(
        "settings/imap.html", form=form, presets=PRESETS, presets_json=PRESETS_JSON, account=None
    ), status


@bp.route("/accounts/<int:account_id>/reconnect", methods=["GET", "POST"])
@login_required
def reconnect(account_id: int):
    with auth.store().session() as s:
        account = _own_account(s, account_id)
        kind, email, settings = account.kind, account.email, dict(account.settings or {})
        name, aliases = account.display_name, list(account.aliases or [])
    if kind == "gmail":
        return redirect(url_for("google_oauth.connect", login_hint=email))
    if request.method == "GET":
        form = ImapForm(formdata=None, email=email, name=name, aliases=", ".join(aliases))
        for key in ("imap_host", "imap_port", "imap_security", "imap_username"):
            getattr(form, key).data = settings.get(key)
        for key in ("smtp_host", "smtp_port", "smtp_security", "smtp_username"):
            getattr(form, key).data = settings.get(key)
        return render_template(
            "settings/imap.html",
            form=form,
            presets=PRESETS,
            presets_json=PRESETS_JSON,
            account_email=email,
            account=True,
        )
    # The address is what the record is: the page shows it as text, not as a field, so it is
    # put into the submitted data here (else the form's required `email` refuses every post).
    posted = request.form.copy()
    posted["email"] = email
    form = ImapForm(formdata=posted)
    if form.validate_on_submit():
        done = _test_and_save_imap(form, account_id)
        if done is not None:
            return done
    return render_template(
        "settings/imap.html",
        form=form,
        presets=PRESETS,
        presets_json=PRESETS_JSON,
        account_email=email,
        account=True,
    ), 400
