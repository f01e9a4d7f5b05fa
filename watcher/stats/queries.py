"""The three queries of a report, every one scoped to one user id, and user_report."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Account, Event, FollowUp, FollowUpState, Stage
from .results import DONE_STAGES, ReplyRow, Report, StateCount, build_report


def _scoped(query, user_id: int, account_id: int | None):
    query = query.where(FollowUp.user_id == user_id)
    if account_id is not None:
        query = query.where(FollowUp.account_id == account_id)
    return query


def fetch_state_counts(s: Session, user_id: int, account_id: int | None = None) -> list[StateCount]:
    query = _scoped(
        select(FollowUp.account_id, FollowUp.origin, FollowUp.state, func.count())
        .where(FollowUp.state != FollowUpState.REPLIED)
        .group_by(FollowUp.account_id, FollowUp.origin, FollowUp.state),
        user_id,
        account_id,
    )
    return [StateCount(a, o or "", st, n) for a, o, st, n in s.execute(query)]


def fetch_replies(s: Session, user_id: int, account_id: int | None = None) -> list[ReplyRow]:
    """One row per REPLIED follow-up, with how many bumps were done by its reply time."""
    stopped_at = (
        select(func.min(Event.at))
        .where(Event.followup_id == FollowUp.id, Event.kind == "stopped")
        .correlate(FollowUp)
        .scalar_subquery()
    )
    reply_at = func.coalesce(FollowUp.replied_at, stopped_at, FollowUp.updated_at)
    bumps = (
        select(func.count())
        .select_from(Stage)
        .where(
            Stage.followup_id == FollowUp.id,
            Stage.state.in_(DONE_STAGES),
            Stage.done_at.is_not(None),
            Stage.done_at <= reply_at,
        )
        .correlate(FollowUp)
        .scalar_subquery()
    )
    query = _scoped(
        select(FollowUp.account_id, FollowUp.origin, FollowUp.anchor_at, reply_at, bumps).where(
            FollowUp.state == FollowUpState.REPLIED
        ),
        user_id,
        account_id,
    )
    return [ReplyRow(a, o or "", anchor, at, n) for a, o, anchor, at, n in s.execute(query)]


def user_report(s: Session, user_id: int, account_id: int | None = None) -> Report:
    """The Report of one user (or of one of their accounts): the only entry point to I/O."""
    accounts = select(Account.id, Account.email).where(Account.user_id == user_id)
    if account_id is not None:
        accounts = accounts.where(Account.id == account_id)
    account_rows = [(i, e) for i, e in s.execute(accounts.order_by(Account.id))]
    report = build_report(
        account_rows,
        fetch_state_counts(s, user_id, account_id),
        fetch_replies(s, user_id, account_id),
    )
    if account_id is None:
        return report
    # One account: it is the whole scope, so no per-account lines repeat it.
    scope = account_rows[0][1] if account_rows else f"account {account_id}"
    return Report(replace(report.overall, scope=scope, account_id=account_id), (), report.origins)
