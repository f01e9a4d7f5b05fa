"""The settings page: sign-in, follow-ups, accounts, defaults.

Every view that shows or changes something runs as the signed-in user and reaches rows only
through Store queries scoped by that user's id; another user's id is "not found" (404), never
"forbidden", so ids reveal nothing. Mail servers are contacted only outside a DB session.
"""

from __future__ import annotations

import json
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from watcher import followups as fu_ops
from watcher import schedule, send_caps
from watcher.compose import first_name_of, render_text
from watcher.errors import (
    AuthFailed,
    NotFoundError,
    PermanentError,
    ReplywatchError,
    ValidationError,
)
from watcher.evidence import evidence_for
from watcher.mailbox import AccountSpec, open_mailbox
from watcher.models import AccountStatus, FollowUpState, StageState, User

from . import auth
from .auth import current_user, login_required
from .forms import (
    PRESETS,
    ConfirmForm,
    DisconnectForm,
    EditForm,
    ImapForm,
    PasswordForm,
    SetupForm,
    SigninForm,
    SnoozeForm,
)
from .paging import Page

bp = Blueprint(
    "settings",
    __name__,
    url_prefix="/settings",
    static_folder="static",
    static_url_path="/static",
)

DEFAULT_PORTS = {
    "imap": {"ssl": 993, "starttls": 143, "none": 143},
    "smtp": {"ssl": 465, "starttls": 587, "none": 25},
}
FILTERS = {  # ?show=...: label, states (None: every state; "attention": a query of its own)
    "scheduled": ("Scheduled", [FollowUpState.ACTIVE]),
    "attention": ("Needs attention", "attention"),
    "replied": ("Stopped by reply", [FollowUpState.REPLIED]),
    "sent": ("Sent", [FollowUpState.COMPLETED]),
    "failed": ("Failed", [FollowUpState.FAILED]),
    "cancelled": ("Cancelled", [FollowUpState.CANCELLED]),
    "all": ("All", None),
}
STATE_LABELS = {
    "active": "Scheduled",
    "replied": "Stopped by reply",
    "completed": "Sent",
    "cancelled": "Cancelled",
    "failed": "Failed",
}
PRESETS_JSON = json.dumps(PRESETS)  # a plain str: WTForms escapes it into the data- attribute
PREVIEW_SAMPLE = {"first_name": "Sam", "subject": "Proposal for Q3", "recipient_name": "Sam Lee"}


# -- sign-in ------------------------------------------------------------------------------------


def _setup_open(s) -> bool:
    """First run: no user at all yet and Google sign-in not configured. Once anyone exists
    (a Google user included) it stays closed; the operator sets passwords with the CLI."""
    return not auth.store().has_users(s) and bool(auth.missing_google_settings(auth.config()))


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


@bp.post("/signout")
def signout():
    ConfirmForm()  # the CSRF check ran already (CSRFProtect); nothing else to read
    auth.sign_out()
    flash("Signed out.", "ok")
    return redirect(url_for("settings.signin"), 303)


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


@bp.get("/")
@login_required
def index():
    return redirect(url_for("settings.followups"))


# -- follow-ups ---------------------------------------------------------------------------------


def _account_choices(s, user_id: int) -> list[tuple[int, str]]:
    return [
        (a.id, a.email)
        for a in auth.store().list_accounts(s, user_id)
        if a.status != AccountStatus.DISABLED
    ]


@bp.get("/followups")
@login_required
def followups():
    user, store = current_user(), auth.store()
    show = request.args.get("show", "scheduled")
    if show not in FILTERS:
        show = "scheduled"
    with store.session() as s:
        attention = store.followups_needing_attention(s, user.id)
        per_state: dict[str, int] = {}
        for by_state in store.followup_counts(s, user.id).values():
            for state, n in by_state.items():
                per_state[state] = per_state.get(state, 0) + n
        counts = {
            key: (
                len(attention)
                if st == "attention"
                else sum(n for state, n in per_state.items() if st is None or state in st)
            )
            for key, (_, st) in FILTERS.items()
        }
        page = Page.of(counts[show])
        states = FILTERS[show][1]
        if states == "attention":
            items = attention[page.offset : page.offset + page.size]
        else:
            items = store.followups_listing(s, user.id, states, page.offset, page.size)
        accounts = _account_choices(s, user.id)
        ways_accounts = [
            {"id": a.id, "email": a.email, "kind": a.kind, "folders": a.trigger_folders}
            for a in store.list_accounts(s, user.id)
            if a.status != AccountStatus.DISABLED
        ]
        needy_accounts = sum(
            1 for a in store.list_accounts(s, user.id) if a.status == AccountStatus.NEEDS_ATTENTION
        )
    attention_ids = {f.id for f in attention}
    return render_template(
        "settings/followups.html",
        items=items,
        show=show,
        page=page,
        filters=FILTERS,
        counts=counts,
        attention_ids=attention_ids,
        has_accounts=bool(accounts),
        ways_accounts=ways_accounts,
        addon=bool(auth.config().addon_client_id),
        needy_accounts=needy_accounts,
        state_labels=STATE_LABELS,
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def _own_followup(s, followup_id: int):
    try:
        return auth.store().get_followup(s, followup_id, user_id=current_user().id)
    except NotFoundError:
        abort(404)


def _own_account(s, account_id: int):
    try:
        return auth.store().find_account(s, str(int(account_id)), user_id=current_user().id)
    except NotFoundError:
        abort(404)


@bp.get("/followups/<int:followup_id>")
@login_required
def followup(followup_id: int, forms: dict | None = None, status: int = 200):
    from .snooze import quick_picks  # here: web.snooze imports this module

    store, now, tz = auth.store(), auth.now(), current_user().timezone
    with store.session() as s:
        f = _own_followup(s, followup_id)
        events = store.events_for(s, f.id)
        _ = f.stages, f.account.email  # loaded for the template
        pending = [st for st in f.stages if st.state == StageState.PENDING]
        previews = _bump_previews(f)
    forms = forms or {}
    edit = forms.get("edit") or EditForm(
        formdata=None, replier_policy=f.replier_policy, mode=f.mode
    )
    return render_template(
        "settings/followup.html",
        f=f,
        events=events,
        pending=pending,
        snooze_form=forms.get("snooze") or SnoozeForm(formdata=None),
        cancel_form=ConfirmForm(),
        edit_form=edit,
        stage_values=forms.get("stage_values") or {},
        stage_errors=forms.get("stage_errors") or {},
        state_labels=STATE_LABELS,
        is_active=f.state == FollowUpState.ACTIVE,
        previews=previews,
        quick_picks=quick_picks(now, f.due_at, tz) if f.state == FollowUpState.ACTIVE else [],
        snooze_hint=f"A time from now or a date: {schedule.when_forms(now, tz)}.",
        when_hint=f"{schedule.when_forms(now, tz)}.",
    ), status


def _bump_previews(f) -> dict[int, str]:
    """Each bump's text as the recipient reads it (the engine's own template filling, with
    this follow-up's names); a text that no longer fills is left out, not shown raw."""
    to = f.to_addrs[0] if f.to_addrs else ""
    out = {}
    for st in f.stages:
        try:
            out[st.position] = render_text(
                st.text if st.text is not None else f.account.user.bump_template,
                first_name=first_name_of(f.recipient_name, to),
                subject=f.subject,
                recipient_name=f.recipient_name,
                sender_name=f.account.display_name,
            )
        except ReplywatchError:
            continue
    return out


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


# -- accounts -----------------------------------------------------------------------------------


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
