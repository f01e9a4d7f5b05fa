"""The Mailbox seam: everything mail-specific hides behind this small protocol.

The engine is written once against `Mailbox`; `ImapMailbox` (watcher/imap.py) and `GmailMailbox`
(gmail/api.py) implement it. `open_mailbox()` picks the implementation by `account.kind` from an
explicit table, importing it lazily so the watcher never imports google* at module level.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

TEXT_LIMIT = 4096

# Header fields (lower-case) that classification reads besides the addressing fields.
CLASSIFY_HEADERS: tuple[str, ...] = (
    "auto-submitted",
    "precedence",
    "x-autoreply",
    "x-autorespond",
    "x-autoresponder",
    "x-auto-response-suppress",
    "x-ms-exchange-inbox-rules-loop",
    "x-ms-exchange-message-is-ndr",
    "content-type",
    "return-path",
    "x-failed-recipients",
    "list-id",
    "list-unsubscribe",
)


@dataclass(frozen=True)
class MessageSummary:
    """What classification and threading need of one message; no body."""

    ref: str  # opaque, owned by the mailbox (IMAP "folder/uidvalidity/uid"; Gmail message id)
    message_id: str  # "<...>" as in the header; "" if the message has none
    subject: str = ""
    from_addr: str = ""  # bare address, lower-case
    from_name: str = ""
    to: tuple[str, ...] = ()  # bare addresses, lower-case
    cc: tuple[str, ...] = ()
    date: datetime | None = None  # timezone-aware UTC
    # The Date header's own UTC offset in minutes (where the sender's clock stood): how a
    # recipient's zone is learnt. None when absent, unreadable or "-0000" (zone unknown).
    date_offset_minutes: int | None = None
    in_reply_to: tuple[str, ...] = ()  # "<...>" ids
    references: tuple[str, ...] = ()  # "<...>" ids, oldest first
    thread_ref: str | None = None  # provider thread id (Gmail threadId / X-GM-THRID) if known
    in_sent: bool = False  # found in the Sent folder / has the SENT label
    headers: Mapping[str, str] = field(default_factory=dict)  # CLASSIFY_HEADERS present, lower-case
    names: Mapping[str, str] = field(default_factory=dict)  # address -> display name (From/To/Cc)
    # For a delivery report: the Message-IDs of the message it reports on. DSNs rarely carry
    # In-Reply-To; the original's id sits in their body, so the mailbox digs it out.
    reported_ids: tuple[str, ...] = ()
    # The start of the readable body (at most TEXT_LIMIT characters, headers.body_text), filled
    # only for mail that may be an automatic reply (headers.may_be_auto_reply: an
    # out-of-office's return date) or a delivery report (headers.may_be_report: its
    # delivery-status fields come first, so the failed address and diagnostic can be named and
    # a delay warning told from a failure). Empty for everything else: header-only.
    text: str = ""

    @property
    def linked_ids(self) -> frozenset[str]:
        """Every Message-ID this message names, itself included: how it joins a thread."""
        ids = {self.message_id, *self.in_reply_to, *self.references, *self.reported_ids}
        ids.discard("")
        return frozenset(ids)


@dataclass(frozen=True)
class ThreadKey:
    """How a mailbox finds one tracked thread again."""

    message_ids: frozenset[str]  # every Message-ID known to belong to the thread
    thread_ref: str | None = None  # provider thread id when the mailbox has one


@dataclass(frozen=True)
class Changes:
    """What `Mailbox.changes()` returns.

    `cursor_reset` means the old cursor was too old or invalid (IMAP UIDVALIDITY changed, Gmail
    history expired, or there was no cursor yet): `messages` is then empty and the engine must
    re-check every thread it tracks with `thread()`.
    """

    messages: list[MessageSummary]
    cursor: str
    cursor_reset: bool = False


@dataclass(frozen=True)
class Bump:
    """A composed follow-up message, ready to hand to a mailbox."""

    message_id: str  # deterministic per (follow-up, stage): the key of exactly-once
    sender: str  # envelope sender
    recipients: tuple[str, ...]  # envelope recipients (To + Cc)
    raw: bytes  # the RFC 5322 message, CRLF line ends
    thread_ref: str | None = None  # Gmail threadId to send into, when known


@dataclass(frozen=True)
class AccountSpec:
    """What a mailbox implementation needs to connect; built by the engine from an Account row."""

    kind: str  # "imap" | "gmail"
    email: str
    settings: Mapping[str, Any]  # kind-specific, non-secret (hosts, ports, security, usernames)
    secret: str  # decrypted password or refresh token; never logged
    aliases: tuple[str, ...] = ()

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"AccountSpec(kind={self.kind!r}, email={self.email!r})"


class Mailbox(Protocol):
    """One connected mailbox. Use as a context manager; `close()` releases connections."""

    # True if every message the server accepted is in Sent once send() returns or breaks
    # (Gmail API), so "not in Sent" proves "not sent" and an unconfirmed send may be retried.
    sent_copy_is_authoritative: bool

    def check(self) -> None:
        """Log in to every server the account uses (IMAP and SMTP); raise AuthFailed etc."""

    def changes(self, cursor: str | None) -> Changes:
        """Header summaries of messages added since `cursor`; cost grows with change, not size."""

    def thread(self, key: ThreadKey) -> list[MessageSummary]:
        """The current messages of one thread, read fresh (used right before a send)."""

    def find_message(self, message_id: str) -> MessageSummary | None:
        """A message of the user's by Message-ID, Sent first, then the inbox."""

    def find_sent(self, message_id: str) -> str | None:
        """The ref of the sent message with this Message-ID, or None: makes a retry safe."""

    def send(self, bump: Bump, before_commit: Any = None) -> str:
        """Send the bump in its thread and keep a copy in Sent; return its sent ref.

        `before_commit`, if given, is called with no arguments at the last moment before the
        message is irrevocably handed over (for SMTP: before DATA), so the engine can record
        that the outcome is about to become uncertain. If the connection breaks after that point
        the method raises SendUnconfirmed.
        """

    def remind(self, key: ThreadKey) -> None:
        """Bring the thread back to the user: in the inbox, unread, flagged/starred."""

    def close(self) -> None: ...

    def __enter__(self) -> Mailbox: ...

    def __exit__(self, *exc: object) -> None: ...


# kind -> "module:Class". Explicit, so a reader sees every implementation in one place.
MAILBOX_KINDS: dict[str, str] = {
    "imap": "watcher.imap:ImapMailbox",
    "gmail": "gmail.api:GmailMailbox",
}


def open_mailbox(spec: AccountSpec, config: Any) -> Mailbox:
    """Build (not yet connect) the mailbox implementation for `spec.kind`."""
    try:
        target = MAILBOX_KINDS[spec.kind]
    except KeyError:
        raise ValueError(f"unknown account kind {spec.kind!r}") from None
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(spec, config)
