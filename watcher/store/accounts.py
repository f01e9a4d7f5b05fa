"""Accounts: connect, look up, health (ok / failed / needs attention), disconnect, reconnect.

Secrets are encrypted on the way in (the secret box) and decrypted only into an AccountSpec for
the mailbox. Every change of an account's health writes an Event, so the user sees why.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.orm import Session

from ..errors import ConflictError, NotFoundError
from ..mailbox import AccountSpec
from ..models import Account, AccountStatus, MailboxCursor, User
from .events import EventQueries

MAX_BACKOFF = timedelta(hours=1)


class AccountQueries(EventQueries):
    def add_account(
        self,
        s: Session,
        user: User,
        *,
        kind: str,
        email: str,
        settings: dict,
        secret: str,
        display_name: str = "",
        aliases: Iterable[str] = (),
        now: datetime,
    ) -> Account:
        email = email.strip().lower()
        existing = s.scalar(
            select(Account).where(Account.user_id == user.id, Account.email == email)
        )
        if existing is not None and existing.status != AccountStatus.DISABLED:
            raise ConflictError(f"{email} is already connected (account {existing.id})")
        account = existing or Account(user_id=user.id, email=email, kind=kind)
        account.kind = kind
        account.settings = dict(settings)
        account.secret = self.box.encrypt(secret)
        account.display_name = display_name
        account.aliases = sorted({a.strip().lower() for a in aliases if a.strip()})
        _works_again(account)
        s.add(account)
        s.flush()
        return account

    def find_account(self, s: Session, ref: str, user_id: int | None = None) -> Account:
        """An account by id or e-mail address, optionally scoped to one user."""
        query = select(Account)
        if ref.isdigit():
            query = query.where(Account.id == int(ref))
        else:
            query = query.where(Account.email == ref.strip().lower())
        if user_id is not None:
            query = query.where(Account.user_id == user_id)
        account = s.scalar(query)
        if account is None:
            raise NotFoundError(f"no account {ref!r}")
        return account

    def list_accounts(self, s: Session, user_id: int | None = None) -> list[Account]:
        query = select(Account).order_by(Account.id)
        if user_id is not None:
            query = query.where(Account.user_id == user_id)
        return list(s.scalars(query))

    def account_spec(self, account: Account) -> AccountSpec:
        return AccountSpec(
            kind=account.kind,
            email=account.email,
            settings=dict(account.settings or {}),
            secret=self.box.decrypt(account.secret) if account.secret else "",
            aliases=tuple(account.aliases or ()),
            trigger_folders=bool(account.trigger_folders),
        )

    def mark_account_ok(
        self,
        account_id: int,
        now: datetime,
        checked_at: datetime | None = None,
        release_owner: str | None = None,
    ) -> None:
        """A check went well. `checked_at` (when it began, default now) becomes last_ok_at:
        the loop's claim skips accounts checked within the poll interval, and stamping the
        start keeps an account checked late in one pass due at the same point of the next.
        With `release_owner`, that watcher's lease on the account ends in the same UPDATE."""
        with self.session() as s:
            # The common case, an account that was fine before: one UPDATE, nothing to read.
            params = {"account_id": account_id, "checked_at": checked_at or now}
            if release_owner is not None:
                params["owner"] = release_owner
            fine = s.execute(_still_fine_update(release_owner is not None), params)
            if fine.rowcount == 1:
                return
            account = s.get(Account, account_id)
            recovered = account.status == AccountStatus.NEEDS_ATTENTION or account.failures
            if recovered:
                self.add_event(
                    s,
                    user_id=account.user_id,
                    account_id=account.id,
                    kind="account_ok",
                    detail=f"{account.email} works again; waiting follow-ups resume",
                    at=now,
                )
            _works_again(account)
            account.last_ok_at = checked_at or now
            if release_owner is not None and account.lease_owner == release_owner:
                account.lease_owner, account.lease_until = None, None

    def mark_account_failed(
        self, account_id: int, reason: str, *, permanent: bool, now: datetime, backoff: timedelta
    ) -> None:
        """Record a fault; permanent ones need a person, transient ones back off and retry."""
        with self.session() as s:
            account = s.get(Account, account_id)
            account.failures += 1
            wait = min(backoff * (2 ** min(account.failures - 1, 10)), MAX_BACKOFF)
            account.next_check_at = now + (MAX_BACKOFF if permanent else wait)
            account.last_error_at = now
            if permanent:
                account.status = AccountStatus.NEEDS_ATTENTION
            changed = account.status_reason != reason
            account.status_reason = reason
            if changed:
                self.add_event(
                    s,
                    user_id=account.user_id,
                    account_id=account.id,
                    kind="account_error",
                    detail=("needs attention: " if permanent else "will retry: ") + reason,
                    at=now,
                )

    def disable_account(self, s: Session, account: Account, now: datetime) -> None:
        """Disconnect: forget the secret, stop polling; follow-ups stay for the record."""
        account.status = AccountStatus.DISABLED
        account.status_reason = "disconnected"
        account.secret = None
        account.watch_expires_at = None  # a reconnect starts Gmail push afresh
        s.execute(delete(MailboxCursor).where(MailboxCursor.account_id == account.id))
        self.add_event(
            s,
            user_id=account.user_id,
            account_id=account.id,
            kind="account_disconnected",
            detail=f"{account.email} disconnected; its stored password was deleted",
            at=now,
        )

    def reconnect_account(
        self, s: Session, account: Account, *, settings: dict, secret: str, now: datetime
    ) -> Account:
        """New credentials on an existing account (reconnect, or Google connected again):
        the same record, so its follow-ups and history carry on."""
        account.settings = dict(settings)
        account.secret = self.box.encrypt(secret)
        _works_again(account)
        self.add_event(
            s,
            user_id=account.user_id,
            account_id=account.id,
            kind="account_reconnected",
            detail=f"{account.email} reconnected; waiting follow-ups resume",
            at=now,
        )
        return account

    def set_trigger_folders(self, s: Session, account: Account, on: bool, now: datetime) -> None:
        """Opt an account in or out of folder/label triggers (the watcher creates them)."""
        if account.trigger_folders == on:
            return
        account.trigger_folders = on
        self.add_event(
            s,
            user_id=account.user_id,
            account_id=account.id,
            kind="trigger_folders",
            detail="follow-ups by folder/label turned " + ("on" if on else "off"),
            at=now,
        )


def _works_again(account: Account) -> None:
    """Clear every trace of a fault: connected, reconnected and recovered accounts alike.
    last_ok_at is left to mark_account_ok: a connect is no check, and the loop's claim
    would take a fresh stamp for a check and skip the new account for a poll interval."""
    account.status = AccountStatus.OK
    account.status_reason = ""
    account.failures = 0
    account.next_check_at = None


@cache
def _still_fine_update(release: bool):
    """Stamp a good check on an account that was fine, and with `release` end the lease of
    the watcher named `owner`. Built once: it runs on every check."""
    lease = {}
    if release:
        ours = Account.lease_owner == bindparam("owner")
        lease = {
            "lease_owner": case((ours, None), else_=Account.lease_owner),
            "lease_until": case((ours, None), else_=Account.lease_until),
        }
    return (
        update(Account)
        .where(
            Account.id == bindparam("account_id"),
            Account.status == AccountStatus.OK,
            Account.failures == 0,
            Account.next_check_at.is_(None),
            Account.status_reason == "",
        )
        .values(last_ok_at=bindparam("checked_at"), **lease)
        .execution_options(synchronize_session=False)
    )
