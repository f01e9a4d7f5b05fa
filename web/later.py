"""The Send later page (/settings/later): the drafts the watcher will send later, with move,
cancel and send now. The rows come from watcher.later (scoped to the signed-in user); the
buttons change the row only: the watcher's next pass sends (see watcher.later.actions).

How to schedule one is explained on the page: save a draft with your me+later-2w@… in Bcc.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from watcher.errors import ReplywatchError
from watcher.later import actions
from watcher.later.tags import LATER_HELP
from watcher.models import Account
from watcher.store import later as store_later

from . import auth
from .auth import current_user, login_required
from .settings import bp

# What the page offers after sending (the CLI and the tag take any plus tag).
THEN_CHOICES = (("none", "No follow-up"), ("3d", "Follow up after 3 days"),
                ("1w", "Follow up after 1 week"), ("2w", "Follow up after 2 weeks"))  # fmt: skip


def _accounts(s, user_id: int) -> list[Account]:
    return list(s.scalars(select(Account).where(Account.user_id == user_id).order_by(Account.id)))


def _example_address(accounts: list[Account]) -> str:
    email = accounts[0].email if accounts else "you@example.com"
    local, _, domain = email.partition("@")
    return f"{local}+later-2w@{domain}"


@bp.get("/later")
@login_required
def later():
    user = current_user()
    show_all = request.args.get("all") == "1"
    with auth.store().session() as s:
        rows = store_later.for_user(s, user.id, include_ended=show_all)
        items = [actions.describe(r, user.timezone) for r in rows]
        accounts = _accounts(s, user.id)
        example = _example_address(accounts)
        # Drafts are read only with the account's Replywatch folders/labels on.
        drafts_off = [a.email for a in accounts if not a.trigger_folders]
    return render_template(
        "settings/later.html",
        then_choices=THEN_CHOICES,
        items=items,
        show_all=show_all,
        example=example,
        forms=LATER_HELP,
        drafts_off=drafts_off,
    )


def _act(send_id: int, what, done: str):
    user, now = current_user(), auth.now()
    try:
        with auth.store().session() as s:
            row = what(s, user, send_id, now)
            flash(done.format(subject=row.subject or "(no subject)"), "ok")
    except ReplywatchError as e:
        flash(e.message, "error")
    return redirect(url_for("settings.later"), 303)


@bp.post("/later/<int:send_id>/cancel")
@login_required
def cancel_later(send_id: int):
    return _act(
        send_id,
        lambda s, user, i, now: actions.cancel(auth.store(), s, user.id, i, now),
        "“{subject}” will not be sent; the draft stays in your drafts.",
    )


@bp.post("/later/<int:send_id>/send-now")
@login_required
def send_later_now(send_id: int):
    return _act(
        send_id,
        lambda s, user, i, now: actions.send_now(auth.store(), s, user.id, i, now),
        "“{subject}” goes out at the watcher's next pass.",
    )


@bp.post("/later/<int:send_id>/move")
@login_required
def move_later(send_id: int):
    when = request.form.get("when", "")
    return _act(
        send_id,
        lambda s, user, i, now: actions.move(auth.store(), s, user.id, i, when, now),
        "“{subject}” is moved.",
    )


@bp.post("/later/<int:send_id>/then")
@login_required
def then_later(send_id: int):
    then = request.form.get("then", "")
    return _act(
        send_id,
        lambda s, user, i, now: actions.set_then(auth.store(), s, user.id, i, then, now),
        "“{subject}”: the follow-up after it is changed.",
    )
