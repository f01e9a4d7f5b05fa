"""The web face. For now a status page with no personal data (the settings page with sign-in
comes next); until then accounts and follow-ups are managed with `python -m watcher`."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from sqlalchemy import func, select

from watcher.models import Account, AccountStatus, FollowUp, FollowUpState

bp = Blueprint("web", __name__)


def _store():
    return current_app.extensions["replywatch"]["store"]


def _counts() -> dict:
    with _store().session() as s:
        by_state = dict(
            s.execute(select(FollowUp.state, func.count()).group_by(FollowUp.state)).all()
        )
        accounts = s.scalar(select(func.count()).select_from(Account))
        attention = s.scalar(
            select(func.count())
            .select_from(Account)
            .where(Account.status == AccountStatus.NEEDS_ATTENTION)
        )
    return {
        "accounts": accounts,
        "accounts_needing_attention": attention,
        "followups": {state.value: by_state.get(state.value, 0) for state in FollowUpState},
    }


@bp.get("/")
def index():
    return render_template("index.html", counts=_counts())


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok", **_counts())
