"""The Mailbox seam: everything mail-specific hides behind this small protocol.

The engine is written once against `Mailbox`; `ImapMailbox` (watcher/imap/) and `GmailMailbox`
(gmail/api.py) implement it. `open_mailbox()` picks the implementation by `account.kind` from an
explicit table, importing it lazily so the watcher never imports google* at module level.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

TEXT_LIMIT = 4096
# How much of a message's start with_text() reads (IMAP partial fetch): the first text part of
# any report or auto-reply fits; a long human mail is cut, and its start is what counts.
BODY_READ_LIMIT = 65536

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


# Trigger folders (IMAP folders, Gmail labels; the server's hierarchy delimiter replaces "/"):
# a sent message moved or labelled into one gets a follow-up with that delay. Created for
# accounts that opt in (Account.trigger_folders).
TRIGGER_FOLDERS: dict[str, str] = {
    "Replywatch/3 days": "3d",
    "Replywatch/1 week": "1w",
    "Replywatch/2 weeks": "2w",
}
# A draft reply filed here becomes the bump text of the thread it replies to.
BUMPS_FOLDER = "Replywatch/Bumps"
# Where an IMAP mailbox files the inbox copy of a plus-address trigger when the server has no
# \Archive folder (Gmail archives it: the INBOX label is removed).
FILED_FOLDER = "Replywatch/Filed"


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
    # The user's own sent mail: found in the Sent folder (IMAP SPECIAL-USE \Sent), or carrying
    # Gmail's SENT label (API or IMAP \Sent label); on plain IMAP also a message in a Replywatch
    # trigger folder with no delivery trace (moved there from Sent, headers.has_delivery_trace).
    # The one proof of "the user sent this": inbound mail can forge any header, From included.
    in_sent: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)  # CLASSIFY_HEADERS present, lower-case
    names: Mapping[str, str] = field(default_factory=dict)  # address -> display name (From/To/Cc)
    # For a delivery report: the Message-IDs of the message it reports on. DSNs rarely carry
    # In-Reply-To; the original's id sits in their body, so the mailbox digs it out.
    reported_ids: tuple[str, ...] = ()
    # The start of the readable body (at most TEXT_LIMIT characters, headers.body_text; for a
    # delivery report its delivery-status fields first). changes()/thread() fill it only for
    # mail that may be a report or an automatic reply; the engine has with_text() fill it for
    # every other message it is about to judge in a tracked thread.
    text: str = ""
    bcc: tuple[str, ...] = ()  # bare addresses, lower-case: present on the user's Sent copies
    # Delivered-To / X-Original-To (bare, lower-case): where an inbox copy was delivered, e.g.
    # the user's plus-address me+2w@… of a Bcc trigger.
    delivered_to: tuple[str, ...] = ()
    # The Replywatch trigger folder / label it was found in (a key of TRIGGER_FOLDERS, or
    # BUMPS_FOLDER), "" for everything else.
    folder: str = ""
    is_draft: bool = False  # an unsent draft (\Draft flag / DRAFT label): never judged

    def sent_by_user(self, own_addresses: frozenset[str]) -> bool:
        """Really the user's sent mail, from one of their addresses: what may create a
        follow-up. `in_sent` decides; an empty or unparsable From is never the user."""
        sender = self.from_addr.strip().lower()
        return self.in_sent and bool(sender) and sender in own_addresses

    @property
    def linked_ids(self) -> frozenset[str]:
        """Every Message-ID this message names, itself included: how it joins a thread."""
        ids = {self.message_id, *self.in_reply_to, *self.references, *self.reported_ids}
        ids.discard("")
        return frozenset(ids)


def thread_order(s: MessageSummary) -> tuple:
    """Oldest first; within one second a reply (longer chain) sorts after what it answers."""
    stamp = s.date.timestamp() if s.date else float("-inf")
    return (stamp, len(s.references) + len(s.in_reply_to), s.ref)


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
    # Account.trigger_folders: changes() also reports what lands in TRIGGER_FOLDERS and
    # BUMPS_FOLDER (with `folder` set), and ensure_trigger_folders() creates them.
    trigger_folders: bool = False

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

    def with_text(self, messages: Sequence[MessageSummary]) -> list[MessageSummary]:
        """The same summaries, in order, with `text` set to the start of each body
        (headers.body_text of at most BODY_READ_LIMIT bytes): what the engine judges a new
        message in a tracked thread with. A message gone meanwhile comes back unchanged."""

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

    # -- triggers: follow-ups without clicking ---------------------------------------------

    def ensure_trigger_folders(self) -> None:
        """Create TRIGGER_FOLDERS and BUMPS_FOLDER (IMAP folders / Gmail labels) where missing.

        Idempotent; safe when another process creates them at the same moment."""

    def message_text(self, ref: str) -> str:
        """The readable start of one message's body (headers.body_text, at most TEXT_LIMIT
        characters; quoted text kept): a rule's question test, a draft's bump text. "" if the
        message is gone."""

    def file_away(self, ref: str) -> None:
        """Take the inbox copy of a trigger (the Bcc to me+2w@…) out of the inbox, marked read:
        IMAP moves it to the \\Archive folder, else FILED_FOLDER (created on demand); Gmail
        removes INBOX and UNREAD. A message already gone is not an error."""

    def release_trigger(self, ref: str) -> None:
        """A message found in a TRIGGER_FOLDERS folder was taken: IMAP moves it back to Sent
        (to INBOX if the user did not send it); Gmail removes that label. Gone: not an error."""

    def discard_draft(self, ref: str) -> None:
        """Delete the user's draft a bump was sent from (its text went out in the bump).
        IMAP: \\Deleted + UID EXPUNGE in its folder; Gmail: the draft is deleted. Gone: fine."""

    def recent_sent(self, since: datetime, limit: int = 200) -> list[MessageSummary]:
        """Header summaries of sent messages dated `since` or later, newest first, at most
        `limit`: what a rule's dry-run is tried on."""

    def messages_from(self, address: str, limit: int = 20) -> list[MessageSummary]:
        """Header summaries of messages from `address` (any thread, inbox and archive; not
        Sent), newest first, at most `limit`: where a correspondent's time zone is learnt."""

    def read_draft(self, ref: str) -> bytes | None:
        """The whole raw draft (send later sends it as it is); None if it is gone."""

    def draft_key(self, ref: str) -> str | None:
        """What stays the same across saved versions of the draft holding `ref` (Gmail: the
        draft id); None where the mailbox has no such id (IMAP: the Message-ID serves)."""

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
