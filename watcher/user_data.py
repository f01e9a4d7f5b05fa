"""A user's own data: everything of theirs as JSON, and deleting all of it.

Shared by the settings page (web.my_data) and the CLI (`python -m watcher user export|delete`).

Export: the user's settings, accounts (without passwords or tokens), follow-ups with their
stages, thread Message-IDs and history, the account-level history, rules, trigger items and
what is known of their correspondents' zones. Secrets, password hashes and watcher leases are
left out: an export is something people mail around.

Delete: Google is first asked to revoke each Gmail account's refresh token (Google's revoke
endpoint, `Config.google_revoke_uri`); then, in one transaction, the stored passwords and
tokens are blanked and every row of the user is deleted, table by table, children first (the
foreign keys would cascade, but the rule should not rest on a pragma). On SQLite,
`secure_delete` overwrites the freed pages, so an erased password does not linger in the file.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime

import requests
from sqlalchemy import delete, or_, select, text, update

from .errors import NotFoundError
from .models import (
    Account,
    Event,
    FollowUp,
    LoginAttempt,
    MailboxCursor,
    RecipientZone,
    Rule,
    ScheduledSend,
    SendRecord,
    Stage,
    TrackedId,
    TriggerItem,
    User,
)

log = logging.getLogger(__name__)

FORMAT = "replywatch-export/1"
REVOKE_TIMEOUT = 15  # seconds
# Never exported: secrets, and the watcher's own bookkeeping of who holds what.
HIDDEN = {"password_hash", "secret", "lease_owner", "lease_until", "session_generation"}


def _value(v):
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def _row(obj, drop=()) -> dict:
    return {
        c.name: _value(getattr(obj, c.key))
        for c in obj.__table__.columns
        if c.name not in HIDDEN and c.name not in drop
    }


def export_user(s, user_id: int, now: datetime) -> dict:
    user = s.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id}")
    accounts = list(s.scalars(select(Account).where(Account.user_id == user_id)))
    followups = list(
        s.scalars(select(FollowUp).where(FollowUp.user_id == user_id).order_by(FollowUp.id))
    )
    tracked: dict[int, list[str]] = {}
    for row in s.scalars(
        select(TrackedId).where(TrackedId.followup_id.in_([f.id for f in followups]))
    ):
        tracked.setdefault(row.followup_id, []).append(row.message_id)

    def one(f: FollowUp) -> dict:
        return {
            **_row(f),
            "stages": [_row(st, drop=("followup_id",)) for st in f.stages],
            "events": [_row(e, drop=("user_id", "followup_id")) for e in f.events],
            "thread_message_ids": sorted(tracked.get(f.id, [])),
        }

    def rows(model, *where):
        query = select(model).where(model.user_id == user_id, *where).order_by(model.id)
        return [_row(r, drop=("user_id",)) for r in s.scalars(query)]

    return {
        "format": FORMAT,
        "exported_at": now.isoformat(),
        "user": _row(user),
        "accounts": [_row(a, drop=("user_id",)) for a in accounts],
        "followups": [one(f) for f in followups],
        "account_events": rows(Event, Event.followup_id.is_(None)),
        "rules": rows(Rule),
        "recipients": rows(RecipientZone),
        "trigger_items": rows(TriggerItem),
        "scheduled_sends": rows(ScheduledSend),  # send later
    }


def export_json(store, user_id: int, now: datetime) -> str:
    with store.session() as s:
        return json.dumps(export_user(s, user_id, now), indent=2, ensure_ascii=False)


@dataclass
class Holdings:
    """What deleting a user removes, counted for the confirmation."""

    email: str
    accounts: list[str] = field(default_factory=list)
    gmail_accounts: list[str] = field(default_factory=list)
    followups: int = 0
    active: int = 0
    rules: int = 0
    recipients: int = 0
    events: int = 0

    def lines(self) -> list[str]:
        out = [
            f"your sign-in {self.email} (password or Google link), and every session",
            f"{len(self.accounts)} mail account(s){': ' if self.accounts else ''}"
            + ", ".join(self.accounts)
            + " with their stored passwords and tokens",
            f"{self.followups} follow-up(s) ({self.active} still scheduled) with their history",
            f"{self.rules} rule(s) and {self.recipients} known correspondent(s)",
        ]
        if self.gmail_accounts:
            out.append(
                "Google is asked to revoke Replywatch's access to " + ", ".join(self.gmail_accounts)
            )
        return out


def holdings(s, user_id: int) -> Holdings:
    from sqlalchemy import func

    user = s.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id}")

    def count(model, *where) -> int:
        query = select(func.count()).select_from(model).where(model.user_id == user_id, *where)
        return s.scalar(query)

    accounts = list(s.scalars(select(Account).where(Account.user_id == user_id)))
    return Holdings(
        email=user.email,
        accounts=[a.email for a in accounts],
        gmail_accounts=[a.email for a in accounts if a.kind == "gmail" and a.secret],
        followups=count(FollowUp),
        active=count(FollowUp, FollowUp.state == "active"),
        rules=count(Rule),
        recipients=count(RecipientZone),
        events=count(Event),
    )


def revoke_google_token(revoke_uri: str, refresh_token: str) -> bool:
    """POST token=... to Google's revoke endpoint ("Using OAuth 2.0 for Web Server
    Applications", Revoking a token: 200 on success, 400 with an error otherwise). A 400
    invalid_token means it is revoked or expired already: the goal is reached."""
    try:
        answer = requests.post(
            revoke_uri,
            data={"token": refresh_token},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=REVOKE_TIMEOUT,
        )
    except requests.RequestException as e:
        log.warning("token revocation failed: %s", type(e).__name__)  # never the token
        return False
    if answer.status_code == 400 and "invalid_token" in answer.text:
        return True
    return answer.ok


def _refresh_token(secret: str) -> str:
    if secret.startswith("{"):
        return json.loads(secret).get("refresh_token", "")
    return secret


@dataclass
class Deleted:
    email: str
    revoked: list[str]
    not_revoked: list[str]


def delete_user(store, config, user_id: int) -> Deleted:
    """Revoke at Google, then delete every row of the user in one transaction."""
    with store.session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFoundError(f"no user {user_id}")
        email = user.email
        grants = [
            (a.email, _refresh_token(store.account_spec(a).secret))
            for a in s.scalars(select(Account).where(Account.user_id == user_id))
            if a.kind == "gmail" and a.secret
        ]
    revoked, not_revoked = [], []
    for address, token in grants:  # network I/O outside any transaction
        ok = bool(token) and revoke_google_token(config.google_revoke_uri, token)
        (revoked if ok else not_revoked).append(address)
    with store.session() as s:
        if store.engine.dialect.name == "sqlite":
            s.execute(text("PRAGMA secure_delete=ON"))  # zero freed pages: no password left
        _delete_rows(s, user_id, email)
    if store.engine.dialect.name == "sqlite":
        _checkpoint(store)
    return Deleted(email=email, revoked=revoked, not_revoked=not_revoked)


def _checkpoint(store) -> None:
    """Fold the WAL into the file and empty it: the old copies of the deleted pages there go
    too. On the raw connection, outside a transaction (a checkpoint cannot run inside one)."""
    raw = store.engine.raw_connection()
    try:
        busy, _, _ = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("the WAL could not be emptied now (a reader holds it); SQLite does later")
    finally:
        raw.close()


def _delete_rows(s, user_id: int, email: str) -> None:
    account_ids = select(Account.id).where(Account.user_id == user_id).scalar_subquery()
    followup_ids = select(FollowUp.id).where(
        or_(FollowUp.user_id == user_id, FollowUp.account_id.in_(account_ids))
    )
    followup_ids = followup_ids.scalar_subquery()
    s.execute(update(Account).where(Account.user_id == user_id).values(secret=None))
    s.execute(
        update(TriggerItem)  # another user's item never points here, but be exact
        .where(TriggerItem.followup_id.in_(followup_ids), TriggerItem.user_id != user_id)
        .values(followup_id=None)
    )
    for model, where in (
        (TrackedId, TrackedId.followup_id.in_(followup_ids)),
        (Stage, Stage.followup_id.in_(followup_ids)),
        (
            Event,
            or_(
                Event.user_id == user_id,
                Event.followup_id.in_(followup_ids),
                Event.account_id.in_(account_ids),
            ),
        ),
        (
            TriggerItem,
            or_(TriggerItem.user_id == user_id, TriggerItem.account_id.in_(account_ids)),
        ),
        (
            ScheduledSend,  # send later
            or_(ScheduledSend.user_id == user_id, ScheduledSend.account_id.in_(account_ids)),
        ),
        (FollowUp, FollowUp.id.in_(followup_ids)),
        (Rule, or_(Rule.user_id == user_id, Rule.account_id.in_(account_ids))),
        (MailboxCursor, MailboxCursor.account_id.in_(account_ids)),
        (SendRecord, SendRecord.account_id.in_(account_ids)),  # the daily send cap's count
        (RecipientZone, RecipientZone.user_id == user_id),
        # Sign-in throttling rows name the address ("signin:<email>|<client>").
        (LoginAttempt, LoginAttempt.key.like(f"signin:{_like(email)}|%", escape="\\")),
        (Account, Account.user_id == user_id),
        (User, User.id == user_id),
    ):
        s.execute(delete(model).where(where).execution_options(synchronize_session=False))


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
