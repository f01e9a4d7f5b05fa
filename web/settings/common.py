"""What the settings pages share: labels, the preview's sample names, and the lookups that
scope a follow-up or an account to the signed-in user (another user's id is a 404)."""

from __future__ import annotations

from flask import abort

from watcher.errors import NotFoundError

from .. import auth
from ..auth import current_user

STATE_LABELS = {
    "active": "Scheduled",
    "replied": "Stopped by reply",
    "completed": "Sent",
    "cancelled": "Cancelled",
    "failed": "Failed",
}
PREVIEW_SAMPLE = {"first_name": "Sam", "subject": "Proposal for Q3", "recipient_name": "Sam Lee"}


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
