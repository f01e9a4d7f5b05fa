"""SQLAlchemy 2 models. Times are stored as UTC; `UTCDateTime` hands back aware datetimes.

Lifecycle of a FollowUp (state): active -> replied | completed | cancelled | failed.
`current_stage` is the 1-based position of the next Stage to act on; `due_at` is when.
"""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Naive UTC in the database (SQLite has no zones), aware UTC in Python."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class AccountStatus(enum.StrEnum):
    OK = "ok"
    NEEDS_ATTENTION = "needs_attention"  # a person must fix something (password, revoked token)
    DISABLED = "disabled"  # disconnected by the user; nothing is polled or sent


class FollowUpState(enum.StrEnum):
    ACTIVE = "active"  # scheduled: waiting for a reply or for due_at
    REPLIED = "replied"  # stopped by a real reply
    COMPLETED = "completed"  # every stage was sent (or reminded)
    CANCELLED = "cancelled"
    FAILED = "failed"  # a bounce, or a send that can never succeed


class Mode(enum.StrEnum):
    SEND = "send"  # mail the bump to the recipients
    REMIND = "remind"  # only bring the thread back to the user's inbox


class StageState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # handed to the server; outcome recorded next (see engine)
    SENT = "sent"
    REMINDED = "reminded"
    UNCONFIRMED = "unconfirmed"  # the connection broke mid-hand-over: never resent


def new_token() -> str:
    return secrets.token_hex(10)


def utcnow() -> datetime:
    return datetime.now(UTC)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Where `timezone` came from: "" (never chosen: the UTC default), "browser" (the settings
    # page took the browser's zone on first use) or "you" (saved on Defaults).
    timezone_source: Mapped[str] = mapped_column(String(10), default="", server_default="")
    send_days: Mapped[str] = mapped_column(String(40), default="mon-fri")
    send_hours: Mapped[str] = mapped_column(String(20), default="09:00-17:00")
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    default_delay: Mapped[str] = mapped_column(String(20), default="1w")
    bump_template: Mapped[str] = mapped_column(
        Text, default="Hi {first_name},\n\nJust bumping this up in case it got buried.\n"
    )
    replier_policy: Mapped[str] = mapped_column(String(20), default="anyone")
    own_message_policy: Mapped[str] = mapped_column(String(20), default="restart")
    # What an out-of-office does (watcher.classify.OOO_POLICIES): pause | ignore | reply.
    ooo_policy: Mapped[str] = mapped_column(String(20), default="pause", server_default="pause")
    # Whose hours bumps keep: "mine" (the sending window above) or "recipient" (that window
    # intersected with Mon-Fri 09:00-17:00 in the recipient's zone, see RecipientZone).
    window_mode: Mapped[str] = mapped_column(String(20), default="mine", server_default="mine")
    password_hash: Mapped[str | None] = mapped_column(String(300))
    # The OpenID Connect subject of the Google account this user signs in with (stable, unlike
    # an address). None for a local (password) user who never signed in with Google.
    google_sub: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Every session cookie carries the generation it was made in; bumping it (sign-out,
    # `python -m watcher user sign-out-everywhere`) ends every session made before.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    accounts: Mapped[list[Account]] = relationship(back_populates="user")


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("user_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # key of watcher.mailbox.MAILBOX_KINDS
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    aliases: Mapped[list] = mapped_column(JSON, default=list)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)  # non-secret connection settings
    secret: Mapped[str | None] = mapped_column(Text)  # encrypted (watcher.crypto)
    status: Mapped[str] = mapped_column(String(20), default=AccountStatus.OK)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When Gmail's users.watch (push to Pub/Sub) runs out; None: no watch known (or not Gmail).
    watch_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Opt-in: the watcher creates and reads the Replywatch/<delay> and Replywatch/Bumps folders
    # (IMAP) or labels (Gmail). Plus-address triggers need no opt-in.
    trigger_folders: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Mail Replywatch may send from this account per day of the user's zone (watcher.send_caps);
    # None: the provider's default.
    daily_send_cap: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="accounts")

    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset(a.lower() for a in [self.email, *(self.aliases or [])])


class MailboxCursor(Base):
    """Where `Mailbox.changes()` left off for one account (opaque to everyone but the mailbox)."""

    __tablename__ = "mailbox_cursors"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FollowUp(Base):
    __tablename__ = "followups"
    __table_args__ = (
        Index("ix_followups_due", "state", "due_at"),
        Index("ix_followups_account_state", "account_id", "state"),
        # New follow-ups and those after a cursor reset: read every pass, so indexed.
        Index("ix_followups_check", "account_id", "state", "needs_check"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(40), unique=True, default=new_token)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    anchor_message_id: Mapped[str] = mapped_column(String(998))
    anchor_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the user sent it
    thread_ref: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text, default="")
    to_addrs: Mapped[list] = mapped_column(JSON, default=list)
    cc_addrs: Mapped[list] = mapped_column(JSON, default=list)
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    mode: Mapped[str] = mapped_column(String(10), default=Mode.SEND)
    state: Mapped[str] = mapped_column(String(20), default=FollowUpState.ACTIVE)
    current_stage: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_base_at: Mapped[datetime] = mapped_column(UTCDateTime)  # start of the current stage
    needs_check: Mapped[bool] = mapped_column(Boolean, default=True)  # re-read thread next pass
    replier_policy: Mapped[str] = mapped_column(String(20), default="anyone")
    stop_reason: Mapped[str] = mapped_column(Text, default="")
    # What created it: "" (by hand: add-on, page, CLI), "plus-address me+2w@…",
    # "folder Replywatch/1 week", "rule 'Cold outreach' (#3)", "draft in Replywatch/Bumps".
    origin: Mapped[str] = mapped_column(String(300), default="", server_default="")
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the reply's own time
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    account: Mapped[Account] = relationship()
    stages: Mapped[list[Stage]] = relationship(
        back_populates="followup", order_by="Stage.position", cascade="all, delete-orphan"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="followup", order_by="Event.id", cascade="all, delete-orphan"
    )

    def end(self, state: str, reason: str) -> None:
        """Stop for good (replied, completed, cancelled, failed): nothing is due any more."""
        self.state = state
        self.due_at = None
        self.stop_reason = reason

    def stage(self, position: int | None = None) -> Stage | None:
        position = self.current_stage if position is None else position
        return next((s for s in self.stages if s.position == position), None)


class Stage(Base):
    __tablename__ = "stages"
    __table_args__ = (
        UniqueConstraint("followup_id", "position"),
        # The per-minute send cap looks up the last minute's sends before every claim.
        Index("ix_stages_state_done", "state", "done_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    followup_id: Mapped[int] = mapped_column(ForeignKey("followups.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # 1-based
    delay: Mapped[str | None] = mapped_column(String(20))  # "2w" after the previous message
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # or an absolute time
    text: Mapped[str | None] = mapped_column(Text)  # None: the user's template
    state: Mapped[str] = mapped_column(String(20), default=StageState.PENDING)
    message_id: Mapped[str | None] = mapped_column(String(998))  # the bump's deterministic id
    sent_ref: Mapped[str | None] = mapped_column(String(300))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The user's own draft this stage's text came from (Replywatch/Bumps): discarded once the
    # bump is sent, kept (and the user told) when a reply stops the follow-up.
    draft_ref: Mapped[str | None] = mapped_column(String(300))
    # When the bump was last handed to the SMTP server, and what can later show whether it
    # went out (watcher.evidence: "receipt" | "sent"; None: nothing can, ask the user).
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence: Mapped[str | None] = mapped_column(String(10))

    followup: Mapped[FollowUp] = relationship(back_populates="stages")


class TrackedId(Base):
    """A Message-ID known to be in a follow-up's thread: how new mail finds its thread."""

    __tablename__ = "tracked_ids"

    followup_id: Mapped[int] = mapped_column(
        ForeignKey("followups.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[str] = mapped_column(String(998), primary_key=True, index=True)


class RecipientZone(Base):
    """What one user knows of where a correspondent lives: the UTC offsets of their Date
    headers (latest MAX_OBSERVATIONS, [iso UTC, minutes]), the zone inferred from them, and
    the user's override, which wins."""

    __tablename__ = "recipient_zones"
    __table_args__ = (UniqueConstraint("user_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))  # bare, lower-case
    observations: Mapped[list] = mapped_column(JSON, default=list)
    inferred_zone: Mapped[str | None] = mapped_column(String(64))
    override_zone: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the watcher last asked the mailbox for their mail (watcher.zone_scan): at most
    # once per SCAN_EVERY per correspondent.
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def zone(self) -> str | None:
        return self.override_zone or self.inferred_zone

    @property
    def source(self) -> str:
        if self.override_zone:
            return "set by you"
        n = len(self.observations or [])
        if not n:
            return "unknown"
        return f"Date headers of {n} message{'s' if n != 1 else ''}"


class LoginAttempt(Base):
    """One failed sign-in, by key ("ip:1.2.3.4" or "email:a@b"): what rate limiting counts."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """One line of history: what happened, when and why. Never updated, never deleted alone."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    followup_id: Mapped[int | None] = mapped_column(
        ForeignKey("followups.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(998))
    rule: Mapped[str | None] = mapped_column(String(60))

    followup: Mapped[FollowUp | None] = relationship(back_populates="events")


class Rule(Base):
    """Put follow-ups on new sent mail automatically ("every external message that asks a
    question: bump after 3 days"). Applied by the watcher to mail sent after `created_at`."""

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    mode: Mapped[str] = mapped_column(String(10), default=Mode.REMIND)
    delays: Mapped[list] = mapped_column(JSON, default=list)  # ["3d", "1w"]: one per stage
    external_only: Mapped[bool] = mapped_column(Boolean, default=True)  # not my domain, no list
    question_only: Mapped[bool] = mapped_column(Boolean, default=False)  # the text asks something
    exclude_domains: Mapped[list] = mapped_column(JSON, default=list)
    exclude_addresses: Mapped[list] = mapped_column(JSON, default=list)
    exclude_subjects: Mapped[list] = mapped_column(JSON, default=list)  # substrings, any case
    text: Mapped[str | None] = mapped_column(Text)  # the bumps' template; None: the user's own
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def describe(self) -> str:
        return f"rule {self.name!r} (#{self.id})"


class TriggerItem(Base):
    """A message a trigger (plus-address, folder/label, rule, draft) asked to act on.

    Written in the same transaction that moves the mailbox cursor, so nothing is lost; acted
    on afterwards (that may need the body or a move on the server). One row per message and
    account: a follow-up is never created twice for one message by two triggers.
    """

    __tablename__ = "trigger_items"
    __table_args__ = (
        UniqueConstraint("account_id", "key"),
        Index("ix_trigger_items_pending", "account_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # The dedup key: the message's Message-ID ("<...>"), or "draft:<ref>" for a draft version.
    key: Mapped[str] = mapped_column(String(998))
    kind: Mapped[str] = mapped_column(String(20))  # plus | folder | rule | draft
    spec: Mapped[str] = mapped_column(String(200), default="")  # "2w-remind", "1 week", rule id
    summary: Mapped[dict] = mapped_column(JSON, default=dict)  # the message, as triggers need it
    refs: Mapped[list] = mapped_column(JSON, default=list)  # copies to file away / move back
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending|done|ignored
    outcome: Mapped[str] = mapped_column(Text, default="")  # what happened, in words
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followups.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SendRecord(Base):
    """One message Replywatch handed (or may have handed) to an account's server: a bump or a
    help email, written in the transaction that passes its point of no return. What the daily
    send cap counts (watcher.send_caps); one row per Message-ID, so a retry counts once."""

    __tablename__ = "send_records"
    __table_args__ = (
        UniqueConstraint("account_id", "message_id"),
        Index("ix_send_records_account_at", "account_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(998))
    kind: Mapped[str] = mapped_column(String(20))  # bump | help
    at: Mapped[datetime] = mapped_column(UTCDateTime)


# Send later keeps its table beside its code (watcher/later/model.py); imported here so that
# Base.metadata, which migrations and tests compare with, always holds it.
from .later.model import ScheduledSend  # noqa: E402, F401
