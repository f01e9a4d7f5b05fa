"""Why a follow-up "needs attention", in words, with the one click that fixes it.

The Follow-ups list marks rows that cannot go ahead (store.followups_needing_attention): their
account needs a person (a refused password, a revoked token), their account was disconnected,
or a bump's hand-over was never confirmed. Each row and the notice above the list say which
account, why, and link to the fix. Given to the templates as functions (a context processor),
so the list view itself stays as it is and other pages pay nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

from watcher.models import AccountStatus, FollowUpState

from .auth import current_user, store
from .settings import bp


@dataclass(frozen=True)
class Attention:
    account: str  # the account's address
    why: str  # a sentence a person understands (the notice above the list)
    short: str  # the same, short, for a row of the list
    fix: str  # the label of the one click that fixes it
    url: str


def _reconnect(account) -> str:
    return url_for("settings.reconnect", account_id=account.id)


def account_attention(account) -> Attention | None:
    """What is wrong with an account, or None when it works."""
    if account.status == AccountStatus.NEEDS_ATTENTION:
        reason = (account.status_reason or "the mail server refused the sign-in").rstrip(".")
        return Attention(
            account.email,
            f"{account.email} needs attention: {reason}. Its follow-ups wait; nothing is lost.",
            f"Waiting for {account.email}: {reason}.",
            f"Reconnect {account.email}",
            _reconnect(account),
        )
    if account.status == AccountStatus.DISABLED:
        return Attention(
            account.email,
            f"{account.email} is disconnected: its follow-ups are kept, but nothing is watched "
            "or sent until you connect it again.",
            f"Waiting: {account.email} is disconnected.",
            f"Reconnect {account.email}",
            _reconnect(account),
        )
    return None


def followup_attention(followup) -> Attention:
    """Why one listed follow-up needs attention (its account is loaded with it)."""
    found = account_attention(followup.account)
    if found is not None and followup.state == FollowUpState.ACTIVE:
        return found
    # Its account works: then a bump's hand-over broke off and waits for the user's word.
    return Attention(
        followup.account.email,
        "A bump may or may not have gone out (the connection broke while sending); "
        "Replywatch will not guess.",
        "A bump may or may not have gone out.",
        "Say whether it arrived",
        url_for("settings.followup", followup_id=followup.id) + "#unconfirmed",
    )


def stuck_accounts() -> list[Attention]:
    """The signed-in user's accounts that cannot serve their follow-ups, one line each: one
    that needs a person; a disconnected one still holding scheduled follow-ups; or, when no
    account works at all, a disconnected one that holds any (instead of "Get started")."""
    user_id = current_user().id
    with store().session() as s:
        accounts = store().list_accounts(s, user_id)
        counts = store().followup_counts(s, user_id)
        working = any(a.status != AccountStatus.DISABLED for a in accounts)
        return [
            found
            for a in accounts
            if (found := account_attention(a))
            and (
                a.status == AccountStatus.NEEDS_ATTENTION
                or counts.get(a.id, {}).get(FollowUpState.ACTIVE)
                or (not working and counts.get(a.id))
            )
        ]


def has_followups() -> bool:
    with store().session() as s:
        return any(store().followup_counts(s, current_user().id).values())


@bp.context_processor
def _helpers() -> dict:
    """Called from the template only when it needs them (no query on other pages)."""
    return {
        "attention_of": followup_attention,
        "stuck_accounts": stuck_accounts,
        "has_followups": has_followups,
    }
