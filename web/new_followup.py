"""The settings page's "New follow-up": pick a message from your recent sent mail.

Nobody outside mail admins knows a Message-ID, so the page lists the last messages in the
account's Sent folder (subject, recipients, date; a search box; the ones already followed are
marked and linked) and one click on a row sets a follow-up with the user's defaults, the delay
and mode adjustable above the list. A Message-ID (or the whole "Message-ID: <…>" line copied
from "Show original") still works, under "Advanced".

Reading Sent is network I/O: it runs outside any DB session, bounded in time (web.mail_io), and
an unreachable mailbox gives a message on the page, never a lost follow-up: nothing is written
until the message has been found again on the server by its Message-ID (the posted id alone is
never trusted). Routes hang on the settings blueprint; accounts are reached only through
queries scoped by the signed-in user.
"""

from __future__ import annotations

import re
from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for

from watcher import followups as fu_ops
from watcher import schedule
from watcher.compose import render_text
from watcher.errors import NotFoundError, ReplywatchError, ValidationError
from watcher.models import AccountStatus, Mode

from . import auth
from .auth import current_user, login_required
from .fields import check, has_errors, mark, sentence
from .forms import NewFollowupForm
from .mail_io import read_mail
from .settings import PREVIEW_SAMPLE, STATE_LABELS, bp

SHOWN = 50  # sent messages listed
LOOK_BACK = timedelta(days=365)  # how far back "recent" reaches
_HEADER = re.compile(r"^\s*message-id\s*:\s*", re.IGNORECASE)
_BRACKETED = re.compile(r"<[^<>\s]+>")


def message_id_from(text: str) -> str:
    """A Message-ID as pasted: "<a@b>", "a@b", or the header line "Message-ID: <a@b>" (folded
    onto two lines, as "Show original" may show it). Refuses anything else with a hint."""
    raw = _HEADER.sub("", (text or "").strip())
    found = _BRACKETED.findall(raw)
    if len(found) == 1 and not _BRACKETED.sub("", raw).strip():
        return found[0]
    if not raw:
        raise ValidationError("pick a message from the list, or paste its Message-ID")
    if any(c.isspace() for c in raw) or "@" not in raw:
        raise ValidationError(
            "that is not a Message-ID (it looks like <CAF1x…@mail.example.com>); to find a "
            "message by its subject, use the search above the list"
        )
    return raw if raw.startswith("<") else f"<{raw}>"


def _accounts(s, user_id: int) -> list:
    return [a for a in auth.store().list_accounts(s, user_id) if a.status != AccountStatus.DISABLED]


def _matches(msg, query: str) -> bool:
    words = query.lower().split()
    hay = " ".join([msg.subject, *msg.to, *msg.cc, *msg.names.values()]).lower()
    return all(w in hay for w in words)


def _render(form: NewFollowupForm | None = None, status: int = 200):
    """The page: the chosen account's recent sent mail, read now (bounded), and the form."""
    user, store, cfg, now = current_user(), auth.store(), auth.config(), auth.now()
    query = request.args.get("q", "").strip()[:200]
    with store.session() as s:
        accounts = _accounts(s, user.id)
        if not accounts:  # nothing to pick from: connect a mailbox first
            if form is not None:
                abort(400)
            return redirect(url_for("settings.accounts"))
        wanted = form.account.data if form is not None else request.args.get("account", type=int)
        account = next((a for a in accounts if a.id == wanted), accounts[0])
        spec = store.account_spec(account)
        account_id, email, folders = account.id, account.email, account.trigger_folders
        kind = account.kind
        choices = [(a.id, a.email) for a in accounts]
    if form is None:
        form = NewFollowupForm(
            formdata=None,
            account=account_id,
            after=user.default_delay,
            replier_policy=user.replier_policy,
        )
    form.account.choices = choices
    form.account.data = account_id
    sent, unreachable = [], ""
    try:
        sent = read_mail(
            spec,
            cfg,
            lambda mailbox: mailbox.recent_sent(now - LOOK_BACK, limit=SHOWN),
            "listing your sent mail",
        )
    except ReplywatchError as e:
        unreachable = sentence(e.message)
    with store.session() as s:  # after the read: which of these are followed already
        followed = store.followups_by_anchor(s, user.id, account_id, [m.message_id for m in sent])
        marks = {mid: (f.id, f.state) for mid, f in followed.items()}
    rows = [m for m in sent if m.message_id and (not query or _matches(m, query))]
    return render_template(
        "settings/new_followup.html",
        form=form,
        rows=rows,
        total=len(sent),
        query=query,
        marks=marks,
        state_labels=STATE_LABELS,
        unreachable=unreachable,
        email=email,
        kind=kind,
        folders=folders,
        after_hint=f"Use {schedule.when_forms(now, user.timezone)}.",
        addon=bool(cfg.addon_client_id),
    ), status


@bp.get("/followups/new")
@login_required
def pick_sent():
    return _render()


@bp.post("/followups/new")
@login_required
def new_followup():
    user, store, now = current_user(), auth.store(), auth.now()
    form = NewFollowupForm()
    with store.session() as s:
        form.account.choices = [(a.id, a.email) for a in _accounts(s, user.id)]
    form.validate_on_submit()  # shape; the meaning of each field is checked below, all at once
    picked = (form.pick.data or "").strip()
    target = form.pick if picked else form.message_id
    message_id = check(target, lambda v: message_id_from(v or ""))
    after = (form.after.data or "").strip() or user.default_delay
    stage = check(form.after, lambda _: fu_ops.parse_stage(after, now, user.timezone))
    text = (form.text.data or "").strip() or None
    if text:
        check(form.text, lambda v: render_text(v, **PREVIEW_SAMPLE))
    if has_errors(form):
        if form.pick.errors:  # no field of its own on the page: say it above the list
            form.form_errors.extend(form.pick.errors)
            form.pick.errors = []
        return _render(form, 400)
    try:
        with store.session() as s:
            account = _own_account(s, form.account.data)
            if account.status == AccountStatus.DISABLED:
                raise ValidationError("that account is disconnected; reconnect it first")
            spec, account_id = store.account_spec(account), account.id
        anchor = read_mail(
            spec, auth.config(), lambda mailbox: mailbox.find_message(message_id), "finding it"
        )
        if anchor is None:
            raise ValidationError(
                f"no message {message_id} in the Sent folder or inbox of {spec.email}; "
                "pick one from the list of your sent mail instead"
            )
        with store.session() as s:
            account = _own_account(s, account_id)
            followup = fu_ops.create_followup(
                store,
                s,
                account=account,
                anchor=anchor,
                stages=[fu_ops.StageSpec(delay=stage.delay, at=stage.at, text=text)],
                mode=Mode.REMIND if form.mode.data == "remind" else Mode.SEND,
                replier_policy=form.replier_policy.data,
                now=now,
                jitter_minutes=auth.config().send_jitter_minutes,
            )
            when = fu_ops.format_local(followup.due_at, account.user.timezone)
            followup_id = followup.id
    except NotFoundError:
        abort(404)
    except ReplywatchError as e:
        if picked or target is form.pick:
            form.form_errors.append(sentence(e.message))
        else:
            mark(form.message_id, e.message)
        return _render(form, 400)
    flash(f"Scheduled: the follow-up goes out {when} unless someone replies.", "ok")
    return redirect(url_for("settings.followup", followup_id=followup_id), 303)


def _own_account(s, account_id):
    try:
        return auth.store().find_account(s, str(int(account_id)), user_id=current_user().id)
    except (NotFoundError, TypeError, ValueError):
        abort(404)
