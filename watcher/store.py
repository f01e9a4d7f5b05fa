"""Store: the database engine, short sessions, and every query by name.

Callers never hold a session across network I/O: the engine reads what it needs into plain
values, talks to the mail server, then comes back with a short write. Claims take a lease in one
statement (`UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING id` on
PostgreSQL; SQLite serializes writers with BEGIN IMMEDIATE), so several watchers can share work.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    text,
    true,
    union,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, selectinload, sessionmaker

from .crypto import SecretBox
from .errors import ConflictError, NotFoundError
from .mailbox import AccountSpec
from .models import (
    Account,
    AccountStatus,
    Event,
    FollowUp,
    FollowUpState,
    LoginAttempt,
    MailboxCursor,
    Mode,
    RecipientZone,
    Rule,
    Stage,
    StageState,
    TrackedId,
    TriggerItem,
    User,
)
from .recipient_zone import MAX_OBSERVATIONS, infer_zone

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
MAX_BACKOFF = timedelta(hours=1)


class StaleCursor(Exception):
    """Another watcher read the same changes first (only after a lease ran out)."""


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        _create_private(make_url(database_url).database)
        engine = create_engine(
            database_url, connect_args={"timeout": 30, "check_same_thread": False}
        )
        _serialize_sqlite_writers(engine)
        return engine
    return create_engine(database_url, pool_pre_ping=True)


def _create_private(path: str | None) -> None:
    """Create a new SQLite file 0600 (owner only; its WAL and shm files follow its mode):
    left to SQLite it would be 0644, readable by every local user if the folder lets them."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _serialize_sqlite_writers(engine: Engine) -> None:
    """SQLAlchemy's documented recipe: take the write lock at BEGIN, so two writers never
    interleave a read-then-update (that is what makes a claim atomic on SQLite)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" below emit BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class ProcessLock:
    """What Store.lock_for_life hands out: still held? and release()."""

    def __init__(self, conn, key: int):
        self._conn, self._key = conn, key

    def held(self) -> bool:
        """False once the connection that holds it is gone (the server freed the lock)."""
        if self._conn is None:
            return True
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except Exception:
            return False
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            conn.commit()
        conn.close()


class Store:
    def __init__(self, database_url: str, encryption_keys: Iterable[str]):
        self.engine = make_engine(database_url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.box = SecretBox(tuple(encryption_keys))

    @classmethod
    def from_config(cls, config) -> Store:
        return cls(config.database_url, config.encryption_keys)

    # -- plumbing ------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (the only way it is created)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.connect() as conn:
            sqlite = self.engine.dialect.name == "sqlite"
            if sqlite:
                # SQLite ALTERs by copying a table and dropping the old one; with foreign keys
                # on, that drop would cascade and delete every row that points at it. The
                # pragma only works outside a transaction, so set it on the raw connection.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
            finally:
                if sqlite:
                    conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One short transaction: committed on success, rolled back on any error."""
        with self._sessions() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()

    # -- users ---------------------------------------------------------------------------------

    def get_or_create_user(self, s: Session, email: str) -> User:
        email = email.strip().lower()
        user = s.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email)
            s.add(user)
            s.flush()
        return user

    # -- accounts ------------------------------------------------------------------------------

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
        account.status = AccountStatus.OK
        account.status_reason = ""
        account.failures = 0
        account.next_check_at = None
        account.last_ok_at = now
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

    def lock_for_life(self, key: int) -> ProcessLock | None:
        """A lock one process at a time holds until it releases it or dies.

        PostgreSQL: a session advisory lock on a connection of its own (the server frees it
        when that connection goes); None while another process holds it. SQLite has one
        watcher process by design: always granted."""
        if not self.is_postgres:
            return ProcessLock(None, key)
        conn = self.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return None
        return ProcessLock(conn, key)

    def account_spec(self, account: Account) -> AccountSpec:
        return AccountSpec(
            kind=account.kind,
            email=account.email,
            settings=dict(account.settings or {}),
            secret=self.box.decrypt(account.secret) if account.secret else "",
            aliases=tuple(account.aliases or ()),
            trigger_folders=bool(account.trigger_folders),
        )

    def claim_account(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        exclude: Iterable[int] = (),
        prefer: Iterable[int] = (),
        only: Iterable[int] | None = None,
    ) -> int | None:
        """Lease one account that is due for a check (not disabled, not backing off);
        accounts in `prefer` (woken by a push) come first; with `only`, none but those."""
        prefer = [int(i) for i in prefer]
        order = [Account.id.in_(prefer).desc(), Account.id] if prefer else [Account.id]
        sub = (
            select(Account.id)
            .where(
                Account.status != AccountStatus.DISABLED,
                or_(Account.next_check_at.is_(None), Account.next_check_at <= now),
                or_(Account.lease_until.is_(None), Account.lease_until < now),
            )
            .order_by(*order)
            .limit(1)
        )
        exclude = list(exclude)
        if exclude:
            sub = sub.where(Account.id.not_in(exclude))
        if only is not None:
            sub = sub.where(Account.id.in_([int(i) for i in only]))
        if self.is_postgres:
            sub = sub.with_for_update(skip_locked=True)
        stmt = (
            update(Account)
            .where(Account.id.in_(sub.scalar_subquery()))
            .values(lease_owner=owner, lease_until=now + lease)
            .returning(Account.id)
        )
        with self.session() as s:
            return s.scalar(stmt)

    def renew_lease(self, model, row_id: int, owner: str, until: datetime) -> bool:
        """Extend a lease we still hold; False if another watcher has taken it."""
        with self.session() as s:
            result = s.execute(
                update(model)
                .where(model.id == row_id, model.lease_owner == owner)
                .values(lease_until=until)
            )
            return result.rowcount == 1

    def release_account(self, account_id: int, owner: str) -> None:
        with self.session() as s:
            s.execute(
                update(Account)
                .where(Account.id == account_id, Account.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def mark_account_ok(self, account_id: int, now: datetime) -> None:
        with self.session() as s:
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
            account.status = AccountStatus.OK
            account.status_reason = ""
            account.failures = 0
            account.next_check_at = None
            account.last_ok_at = now

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

    # -- cursors -------------------------------------------------------------------------------

    def get_cursor(self, s: Session, account_id: int) -> str | None:
        row = s.get(MailboxCursor, account_id)
        return row.value if row else None

    def set_cursor(
        self, s: Session, account_id: int, value: str, now: datetime, expected: str | None
    ) -> None:
        """Move the cursor from `expected` to `value`; StaleCursor if another watcher moved it
        first (then the caller's transaction, with the decisions it made, is rolled back)."""
        if expected is None:
            s.add(MailboxCursor(account_id=account_id, value=value, updated_at=now))
            s.flush()  # a concurrent first cursor surfaces here as an IntegrityError
            return
        result = s.execute(
            update(MailboxCursor)
            .where(MailboxCursor.account_id == account_id, MailboxCursor.value == expected)
            .values(value=value, updated_at=now)
        )
        if result.rowcount != 1:
            raise StaleCursor(f"the cursor of account {account_id} moved meanwhile")

    # -- follow-ups ----------------------------------------------------------------------------

    def get_followup(self, s: Session, followup_id: int, user_id: int | None = None) -> FollowUp:
        query = (
            select(FollowUp)
            .where(FollowUp.id == followup_id)
            .options(selectinload(FollowUp.stages), selectinload(FollowUp.account))
        )
        if user_id is not None:
            query = query.where(FollowUp.user_id == user_id)
        followup = s.scalar(query)
        if followup is None:
            raise NotFoundError(f"no follow-up {followup_id}")
        return followup

    def list_followups(
        self, s: Session, user_id: int | None = None, states: Iterable[str] | None = None
    ) -> list[FollowUp]:
        query = select(FollowUp).options(selectinload(FollowUp.account)).order_by(FollowUp.id)
        if user_id is not None:
            query = query.where(FollowUp.user_id == user_id)
        if states:
            query = query.where(FollowUp.state.in_(list(states)))
        return list(s.scalars(query))

    def followups_page(
        self, s: Session, user_id: int, states: Iterable[str], offset: int, limit: int
    ) -> tuple[list[FollowUp], int]:
        """One page of a user's follow-ups, soonest due first, and how many there are in all."""
        where = (FollowUp.user_id == user_id, FollowUp.state.in_(list(states)))
        total = s.scalar(select(func.count()).select_from(FollowUp).where(*where)) or 0
        query = (
            select(FollowUp)
            .where(*where)
            .options(selectinload(FollowUp.stages))
            .order_by(FollowUp.due_at.is_(None), FollowUp.due_at, FollowUp.id)
            .offset(offset)
            .limit(limit)
        )
        return list(s.scalars(query)), total

    def followups_listing(
        self, s: Session, user_id: int, states: Iterable[str] | None, offset: int, limit: int
    ) -> list[FollowUp]:
        """One page of the settings list: scheduled ones soonest due first, then the ended
        ones most recently changed first. (The count per state is followup_counts.)"""
        query = select(FollowUp).where(FollowUp.user_id == user_id)
        if states is not None:
            query = query.where(FollowUp.state.in_(list(states)))
        query = (
            query.options(selectinload(FollowUp.account))
            .order_by(
                FollowUp.due_at.is_(None),
                FollowUp.due_at,
                FollowUp.updated_at.desc(),
                FollowUp.id.desc(),
            )
            .offset(offset)
            .limit(limit)
        )
        return list(s.scalars(query))

    def followups_in_thread(
        self, s: Session, account_id: int, thread_ref: str | None, anchor_message_id: str
    ) -> list[FollowUp]:
        """An account's follow-ups on this thread (or anchored on this message), newest first."""
        match = FollowUp.anchor_message_id == anchor_message_id
        if thread_ref:
            match = or_(match, FollowUp.thread_ref == thread_ref)
        query = (
            select(FollowUp)
            .where(FollowUp.account_id == account_id, match)
            .options(selectinload(FollowUp.stages))
            .order_by(FollowUp.id.desc())
            .limit(10)
        )
        return list(s.scalars(query))

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

    def add_rule(
        self,
        s: Session,
        account: Account,
        fields,  # rules.RuleFields, already validated
        *,
        external_only: bool,
        question_only: bool,
        now: datetime,
    ) -> Rule:
        """A new, enabled rule on one of the user's accounts (it applies from `now` on)."""
        rule = Rule(
            user_id=account.user_id,
            account_id=account.id,
            name=fields.name,
            enabled=True,
            mode=fields.mode,
            delays=fields.delays,
            external_only=external_only,
            question_only=question_only,
            exclude_domains=fields.exclude_domains,
            exclude_addresses=fields.exclude_addresses,
            exclude_subjects=fields.exclude_subjects,
            created_at=now,
            updated_at=now,
        )
        s.add(rule)
        s.flush()
        return rule

    def enabled_rules(self, s: Session, account_id: int) -> list[Rule]:
        return list(
            s.scalars(
                select(Rule)
                .where(Rule.account_id == account_id, Rule.enabled.is_(True))
                .order_by(Rule.id)
            )
        )

    def get_rule(self, s: Session, rule_id: int, user_id: int | None = None) -> Rule:
        """One rule; with `user_id`, only that user's (the web face): NotFoundError otherwise."""
        query = select(Rule).where(Rule.id == rule_id)
        if user_id is not None:
            query = query.where(Rule.user_id == user_id)
        rule = s.scalar(query)
        if rule is None:
            raise NotFoundError(f"no rule {rule_id}")
        return rule

    def list_rules(
        self, s: Session, user_id: int | None = None, account_id: int | None = None
    ) -> list[Rule]:
        query = select(Rule).order_by(Rule.account_id, Rule.id)
        if user_id is not None:
            query = query.where(Rule.user_id == user_id)
        if account_id is not None:
            query = query.where(Rule.account_id == account_id)
        return list(s.scalars(query))

    def rule_followup_counts(self, s: Session, rule_ids: Iterable[int]) -> dict[int, int]:
        """How many follow-ups each rule created (a settled rule item names its one rule)."""
        keys = {str(i): i for i in rule_ids}
        if not keys:
            return {}
        rows = s.execute(
            select(TriggerItem.spec, func.count())
            .where(
                TriggerItem.kind == "rule",
                TriggerItem.state == "done",
                TriggerItem.followup_id.is_not(None),
                TriggerItem.spec.in_(list(keys)),
            )
            .group_by(TriggerItem.spec)
        )
        counts = dict.fromkeys(keys.values(), 0)
        counts.update({keys[spec]: n for spec, n in rows})
        return counts

    def rule_items(self, s: Session, account_id: int, limit: int = 200) -> list[TriggerItem]:
        """An account's newest rule trigger items (what rules were asked about, and the outcome)."""
        return list(
            s.scalars(
                select(TriggerItem)
                .where(TriggerItem.account_id == account_id, TriggerItem.kind == "rule")
                .order_by(TriggerItem.id.desc())
                .limit(limit)
            )
        )

    def active_followup_for_anchor(
        self, s: Session, account_id: int, anchor_message_id: str
    ) -> FollowUp | None:
        return s.scalar(
            select(FollowUp).where(
                FollowUp.account_id == account_id,
                FollowUp.anchor_message_id == anchor_message_id,
                FollowUp.state == FollowUpState.ACTIVE,
            )
        )

    def followups_by_anchor(
        self, s: Session, user_id: int, account_id: int, anchor_message_ids: Iterable[str]
    ) -> dict[str, FollowUp]:
        """The user's follow-ups on these sent messages (Message-ID -> the newest one): which of
        the recent sent mail the settings page marks as already followed."""
        ids = sorted({m for m in anchor_message_ids if m})
        found: dict[str, FollowUp] = {}
        if not ids:
            return found
        rows = s.scalars(
            select(FollowUp)
            .where(
                FollowUp.user_id == user_id,
                FollowUp.account_id == account_id,
                FollowUp.anchor_message_id.in_(ids),
            )
            .order_by(FollowUp.id)
        )
        for f in rows:
            found[f.anchor_message_id] = f  # the newest wins
        return found

    def track(self, s: Session, followup_id: int, message_ids: Iterable[str]) -> None:
        """Remember Message-IDs as part of (and already judged for) a follow-up's thread."""
        wanted = {m for m in message_ids if m}
        if not wanted:
            return
        known = set(
            s.scalars(
                select(TrackedId.message_id).where(
                    TrackedId.followup_id == followup_id, TrackedId.message_id.in_(wanted)
                )
            )
        )
        s.add_all(TrackedId(followup_id=followup_id, message_id=m) for m in wanted - known)
        s.flush()

    def tracked_ids(self, s: Session, followup_id: int) -> set[str]:
        return set(
            s.scalars(select(TrackedId.message_id).where(TrackedId.followup_id == followup_id))
        )

    def active_followups_linked(
        self, s: Session, account_id: int, message_ids: Iterable[str], thread_refs: Iterable[str]
    ) -> list[FollowUp]:
        """Active follow-ups of an account whose thread any of these ids or thread refs touch.

        An indexed lookup by the ids that changed: cost follows the change, not what is tracked.
        """
        ids = [m for m in set(message_ids) if m]
        refs = [r for r in set(thread_refs) if r]
        conditions = []
        if ids:
            conditions.append(
                FollowUp.id.in_(select(TrackedId.followup_id).where(TrackedId.message_id.in_(ids)))
            )
        if refs:
            conditions.append(FollowUp.thread_ref.in_(refs))
        if not conditions:
            return []
        return list(
            s.scalars(
                select(FollowUp)
                .where(
                    FollowUp.account_id == account_id,
                    FollowUp.state == FollowUpState.ACTIVE,
                    or_(*conditions),
                )
                .options(selectinload(FollowUp.stages))
                .order_by(FollowUp.id)
            )
        )

    def followups_needing_check(self, s: Session, account_id: int, limit: int) -> list[FollowUp]:
        return list(
            s.scalars(
                select(FollowUp)
                .where(
                    FollowUp.account_id == account_id,
                    FollowUp.state == FollowUpState.ACTIVE,
                    FollowUp.needs_check == true(),  # "= true", not "IS": index-usable
                )
                .order_by(FollowUp.id)
                .limit(limit)
            )
        )

    def flag_all_for_check(self, s: Session, account_id: int) -> int:
        result = s.execute(
            update(FollowUp)
            .where(FollowUp.account_id == account_id, FollowUp.state == FollowUpState.ACTIVE)
            .values(needs_check=True)
        )
        return result.rowcount

    def overdue_followups(
        self, s: Session, account_id: int, before: datetime, now: datetime
    ) -> list[FollowUp]:
        return list(
            s.scalars(
                select(FollowUp)
                .where(
                    FollowUp.account_id == account_id,
                    FollowUp.state == FollowUpState.ACTIVE,
                    FollowUp.due_at < before,
                    or_(FollowUp.lease_until.is_(None), FollowUp.lease_until < now),
                )
                .order_by(FollowUp.due_at, FollowUp.id)
            )
        )

    def claim_due(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        account_id: int | None = None,
    ) -> list[int]:
        """Lease up to `limit` due follow-ups in one statement; returns their ids, oldest first."""
        sub = (
            select(FollowUp.id)
            .where(
                FollowUp.state == FollowUpState.ACTIVE,
                FollowUp.due_at <= now,
                or_(FollowUp.lease_until.is_(None), FollowUp.lease_until < now),
            )
            .order_by(FollowUp.due_at, FollowUp.id)
            .limit(limit)
        )
        if account_id is not None:
            sub = sub.where(FollowUp.account_id == account_id)
        if self.is_postgres:
            sub = sub.with_for_update(skip_locked=True)
        stmt = (
            update(FollowUp)
            .where(FollowUp.id.in_(sub.scalar_subquery()))
            .values(lease_owner=owner, lease_until=now + lease)
            .returning(FollowUp.id, FollowUp.due_at)
        )
        with self.session() as s:
            rows = s.execute(stmt).all()
        return [row.id for row in sorted(rows, key=lambda r: (r.due_at, r.id))]

    def sends_since(self, s: Session, account_id: int, since: datetime) -> list[datetime]:
        """When this account's bumps recorded as sent at or after `since` went out, oldest first."""
        return list(
            s.scalars(
                select(Stage.done_at)
                .join(FollowUp, Stage.followup_id == FollowUp.id)
                .where(
                    FollowUp.account_id == account_id,
                    Stage.state == StageState.SENT,
                    Stage.done_at >= since,
                )
                .order_by(Stage.done_at)
            )
        )

    def due_sends(self, s: Session, account_id: int, now: datetime) -> list[FollowUp]:
        """Unclaimed follow-ups of the account whose bump (send mode) is due now."""
        return list(
            s.scalars(
                select(FollowUp)
                .where(
                    FollowUp.account_id == account_id,
                    FollowUp.state == FollowUpState.ACTIVE,
                    FollowUp.mode == Mode.SEND,
                    FollowUp.due_at <= now,
                    or_(FollowUp.lease_until.is_(None), FollowUp.lease_until < now),
                )
                .order_by(FollowUp.due_at, FollowUp.id)
            )
        )

    def holds_lease(self, s: Session, followup: FollowUp, owner: str, now: datetime) -> bool:
        return followup.lease_owner == owner and (
            followup.lease_until is not None and followup.lease_until > now
        )

    def release_followup(self, followup_id: int, owner: str) -> None:
        with self.session() as s:
            s.execute(
                update(FollowUp)
                .where(FollowUp.id == followup_id, FollowUp.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    # -- recipients' zones ---------------------------------------------------------------------

    def recipient_zone(self, s: Session, user_id: int, address: str) -> RecipientZone | None:
        return s.scalar(
            select(RecipientZone).where(
                RecipientZone.user_id == user_id, RecipientZone.address == address.lower()
            )
        )

    def recipient_zones(
        self,
        s: Session,
        user_id: int,
        *,
        search: str = "",
        offset: int = 0,
        limit: int | None = None,
    ) -> list[RecipientZone]:
        """A user's correspondents by address; `search` keeps addresses containing it."""
        query = select(RecipientZone).where(*_recipients_of(user_id, search))
        query = query.order_by(RecipientZone.address).offset(offset)
        return list(s.scalars(query if limit is None else query.limit(limit)))

    def count_recipient_zones(self, s: Session, user_id: int, search: str = "") -> int:
        query = select(func.count()).select_from(RecipientZone)
        return s.scalar(query.where(*_recipients_of(user_id, search))) or 0

    def observe_offset(
        self, s: Session, user_id: int, address: str, at: datetime, offset_minutes: int
    ) -> RecipientZone:
        """Remember one Date header's offset for `address` and infer its zone again."""
        row = self.recipient_zone(s, user_id, address)
        if row is None:
            row = RecipientZone(user_id=user_id, address=address.lower(), observations=[])
            s.add(row)
        entry = [at.astimezone(UTC).isoformat(), int(offset_minutes)]
        seen = [list(o) for o in (row.observations or []) if list(o) != entry]
        seen = sorted([*seen, entry])[-MAX_OBSERVATIONS:]
        row.observations = seen  # a new list, so the JSON column is marked changed
        row.inferred_zone = infer_zone((datetime.fromisoformat(t), m) for t, m in seen)
        row.updated_at = at if row.updated_at is None or at > row.updated_at else row.updated_at
        return row

    def recipient_zone_by_id(self, s: Session, user_id: int, row_id: int) -> RecipientZone:
        """One of the user's correspondents by id; another user's is not found."""
        row = s.scalar(
            select(RecipientZone).where(
                RecipientZone.id == row_id, RecipientZone.user_id == user_id
            )
        )
        if row is None:
            raise NotFoundError(f"no correspondent {row_id}")
        return row

    def followups_in_recipient_hours(
        self, s: Session, account_id: int, now: datetime | None = None
    ) -> list[FollowUp]:
        """Active follow-ups of the account whose owner keeps the recipient's working hours;
        with `now`, only those about to be planned: new (needs_check) or due by `now`."""
        # Asked every pass: the owner's mode first (one row), then two index-backed lookups.
        mode = s.scalar(
            select(User.window_mode)
            .join(Account, Account.user_id == User.id)
            .where(Account.id == account_id)
        )
        if mode != "recipient":
            return []
        mine = select(FollowUp.id).where(
            FollowUp.account_id == account_id, FollowUp.state == FollowUpState.ACTIVE
        )
        if now is not None:
            mine = union(
                mine.where(FollowUp.needs_check == true()), mine.where(FollowUp.due_at <= now)
            )
        return list(s.scalars(select(FollowUp).where(FollowUp.id.in_(mine)).order_by(FollowUp.id)))

    def mark_zone_scanned(
        self, s: Session, user_id: int, address: str, now: datetime
    ) -> RecipientZone:
        """Remember that `address`'s own mail was just read for their zone."""
        row = self.recipient_zone(s, user_id, address)
        if row is None:
            row = RecipientZone(
                user_id=user_id, address=address.lower(), observations=[], updated_at=now
            )
            s.add(row)
        row.scanned_at = now
        return row

    def set_recipient_zone(
        self, s: Session, user_id: int, address: str, zone: str | None, now: datetime
    ) -> RecipientZone:
        """The user's own answer (None: back to what the Date headers say)."""
        row = self.recipient_zone(s, user_id, address)
        if row is None:
            row = RecipientZone(user_id=user_id, address=address.lower(), observations=[])
            s.add(row)
        row.override_zone = zone
        row.updated_at = now
        return row

    # -- events --------------------------------------------------------------------------------

    def add_event(
        self,
        s: Session,
        *,
        user_id: int,
        kind: str,
        detail: str,
        at: datetime,
        followup_id: int | None = None,
        account_id: int | None = None,
        message_id: str | None = None,
        rule: str | None = None,
    ) -> Event:
        ev = Event(
            user_id=user_id,
            followup_id=followup_id,
            account_id=account_id,
            kind=kind,
            detail=detail,
            at=at,
            message_id=message_id,
            rule=rule,
        )
        s.add(ev)
        return ev

    def events_for(self, s: Session, followup_id: int) -> list[Event]:
        return list(
            s.scalars(select(Event).where(Event.followup_id == followup_id).order_by(Event.id))
        )

    def account_events(self, s: Session, account_id: int, limit: int = 20) -> list[Event]:
        return list(
            s.scalars(
                select(Event)
                .where(Event.account_id == account_id, Event.followup_id.is_(None))
                .order_by(Event.id.desc())
                .limit(limit)
            )
        )

    # -- the settings page: users, sign-in, account upkeep ----------------------------------

    def get_user(self, s: Session, user_id: int) -> User | None:
        return s.get(User, user_id)

    def user_by_email(self, s: Session, email: str) -> User | None:
        return s.scalar(select(User).where(User.email == email.strip().lower()))

    def user_by_google_sub(self, s: Session, sub: str) -> User | None:
        return s.scalar(select(User).where(User.google_sub == sub))

    def has_password_users(self, s: Session) -> bool:
        """True once a first-run local user exists (then first-run setup is closed)."""
        query = select(User.id).where(User.password_hash.is_not(None)).limit(1)
        return s.scalar(query) is not None

    def record_login_failure(self, s: Session, keys: Iterable[str], now: datetime) -> None:
        s.add_all(LoginAttempt(key=k, at=now) for k in keys)

    def login_failures(self, s: Session, key: str, since: datetime) -> int:
        """Failed sign-ins under `key` since then (old rows are pruned on the way)."""
        s.execute(delete(LoginAttempt).where(LoginAttempt.at < since - timedelta(days=1)))
        query = select(func.count()).where(LoginAttempt.key == key, LoginAttempt.at >= since)
        return s.scalar(query.select_from(LoginAttempt)) or 0

    def login_failure_stats(
        self, s: Session, key: str, since: datetime
    ) -> tuple[int, datetime | None]:
        """(how many, the latest) failed attempts under `key` since then (old rows pruned)."""
        s.execute(delete(LoginAttempt).where(LoginAttempt.at < since - timedelta(days=1)))
        query = select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.key == key, LoginAttempt.at >= since
        )
        count, latest = s.execute(query).one()
        if isinstance(latest, str):  # SQLite's max() hands back the stored text
            latest = datetime.fromisoformat(latest).replace(tzinfo=UTC)
        elif latest is not None and latest.tzinfo is None:
            latest = latest.replace(tzinfo=UTC)
        return count or 0, latest

    def has_users(self, s: Session) -> bool:
        return s.scalar(select(User.id).limit(1)) is not None

    def clear_login_failures(self, s: Session, keys: Iterable[str]) -> None:
        s.execute(delete(LoginAttempt).where(LoginAttempt.key.in_(list(keys))))

    def reconnect_account(
        self, s: Session, account: Account, *, settings: dict, secret: str, now: datetime
    ) -> Account:
        """New credentials on an existing account (reconnect, or Google connected again):
        the same record, so its follow-ups and history carry on."""
        account.settings = dict(settings)
        account.secret = self.box.encrypt(secret)
        account.status = AccountStatus.OK
        account.status_reason = ""
        account.failures = 0
        account.next_check_at = None
        account.last_ok_at = now
        self.add_event(
            s,
            user_id=account.user_id,
            account_id=account.id,
            kind="account_reconnected",
            detail=f"{account.email} reconnected; waiting follow-ups resume",
            at=now,
        )
        return account

    def delete_followups_of_account(self, s: Session, account_id: int, user_id: int) -> int:
        """Delete an account's follow-ups with their stages and history (user's choice)."""
        ids = select(FollowUp.id).where(
            FollowUp.account_id == account_id, FollowUp.user_id == user_id
        )
        s.execute(delete(TrackedId).where(TrackedId.followup_id.in_(ids)))
        s.execute(delete(Event).where(Event.followup_id.in_(ids)))
        s.execute(delete(Stage).where(Stage.followup_id.in_(ids)))
        result = s.execute(
            delete(FollowUp).where(FollowUp.account_id == account_id, FollowUp.user_id == user_id)
        )
        return result.rowcount

    def followups_needing_attention(self, s: Session, user_id: int) -> list[FollowUp]:
        """Scheduled follow-ups that cannot go ahead: their account needs a person or is
        disconnected, or a bump's hand-over was never confirmed."""
        unconfirmed = select(Stage.followup_id).where(Stage.state == StageState.UNCONFIRMED)
        query = (
            select(FollowUp)
            .join(Account, FollowUp.account_id == Account.id)
            .options(selectinload(FollowUp.account))
            .where(
                FollowUp.user_id == user_id,
                or_(
                    (FollowUp.state == FollowUpState.ACTIVE)
                    & Account.status.in_([AccountStatus.NEEDS_ATTENTION, AccountStatus.DISABLED]),
                    FollowUp.id.in_(unconfirmed),
                ),
            )
            .order_by(FollowUp.id)
        )
        return list(s.scalars(query))

    def followup_counts(self, s: Session, user_id: int) -> dict[int, dict[str, int]]:
        """account id -> state -> how many of the user's follow-ups (one grouped query)."""
        rows = s.execute(
            select(FollowUp.account_id, FollowUp.state, func.count())
            .where(FollowUp.user_id == user_id)
            .group_by(FollowUp.account_id, FollowUp.state)
        ).all()
        out: dict[int, dict[str, int]] = {}
        for account_id, state, count in rows:
            out.setdefault(account_id, {})[state] = count
        return out


def _recipients_of(user_id: int, search: str) -> list:
    """The filter of a user's correspondents, by part of the address (LIKE signs literal)."""
    where = [RecipientZone.user_id == user_id]
    if search:
        where.append(RecipientZone.address.contains(search.lower(), autoescape=True))
    return where
