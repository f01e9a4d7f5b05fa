"""ImapMailbox: the thin class that implements the Mailbox Protocol (watcher/mailbox.py) for an
IMAP/SMTP account, by handing each call to the collaborator whose job it is:

    ImapConnection   connection.py   login, capabilities, folders by SPECIAL-USE, SELECT
    ImapReader       reading.py      changes, threads, bodies, lookups
    ImapTriggers     triggers.py     remind, trigger folders, filing away, drafts
    SmtpSender       smtp_send.py    SMTP sending, the point of no return, the copy in Sent

It owns what they share: the settings, the socket opener (with check()'s deadline) and the
command counter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from imapclient import IMAPClient

from watcher import netguard
from watcher.errors import MailboxUnavailable, ReplywatchError
from watcher.evidence import evidence_for
from watcher.imap.connection import ImapConnection
from watcher.imap.reading import ImapReader
from watcher.imap.settings import ServerSettings
from watcher.imap.smtp_send import SmtpSender, quit_quietly
from watcher.imap.triggers import ImapTriggers
from watcher.mailbox import AccountSpec, Bump, Changes, MessageSummary, ThreadKey


class ImapMailbox:
    # SMTP servers mostly do not file what they relay, and our copy is appended afterwards:
    # a missing copy in Sent proves nothing about a hand-over that broke off.
    sent_copy_is_authoritative = False

    """One IMAP/SMTP account. Connects lazily; use as a context manager or call close()."""

    def __init__(self, spec: AccountSpec, config: Any):
        s = spec.settings
        self.email = spec.email
        self.settings = ServerSettings.from_spec(spec, config)
        self.own_addresses = frozenset(a.lower() for a in (spec.email, *spec.aliases))
        self.trigger_folders = bool(spec.trigger_folders)
        self.send_evidence = evidence_for(s)  # see watcher.evidence
        self.receipts: set[str] = set()  # bumps whose receipt copy the server took (RCPT 250)
        # netguard: public mail servers only, unless the operator allows local ones.
        self.allow_private = bool(getattr(config, "allow_private_mail_hosts", False))
        self.test_seconds = float(getattr(config, "connection_test_seconds", 20.0))
        self._deadline: netguard.Deadline | None = None  # set while check() runs
        self.commands = 0  # IMAP commands sent, for tests and benchmarks
        self.conn = ImapConnection(self.settings, self._open_socket, self._count_commands)
        self.reader = ImapReader(self.conn, self.email, self.own_addresses, self.trigger_folders)
        self.triggers = ImapTriggers(self.conn, self.reader, self.own_addresses)
        self.sender = SmtpSender(
            self.settings,
            self._open_socket,
            self.conn,
            self.reader,
            self.email,
            self.send_evidence,
            self.receipts,
        )

    def __repr__(self) -> str:
        return f"ImapMailbox({self.email!r})"

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Log out quietly; the next call connects again."""
        self.sender.close()
        self.conn.close()

    # -- kept across passes (watcher.engine.kept) --------------------------------------------

    keeps_session = True

    def resume(self) -> None:
        """Taken up again for a new pass: count this pass's commands afresh, and prove the kept
        IMAP session alive (NOOP) before its first command."""
        self.commands = 0
        self.receipts.clear()  # read right after each send (watcher.handover), never later
        self.conn.resumed()

    def pause(self) -> None:
        """Kept until the next pass: the IMAP session stays logged in; SMTP is closed, since
        servers drop idle SMTP sessions within minutes (RFC 5321 4.5.3.2.7) and a pass opens
        one only when it has bumps to send."""
        self.sender.close()

    def check(self) -> None:
        """Log in to IMAP (and find the Sent folder) and to SMTP; raise on the first problem.
        The whole test runs under one deadline (Config.connection_test_seconds)."""
        self._deadline = netguard.Deadline(self.test_seconds)
        try:
            with self._deadline:
                with self.conn.session("log in") as c:
                    self.conn.folder_names(c)
                smtp = self.sender.connect()
                quit_quietly(smtp)
        except ReplywatchError:
            if self._deadline.passed:
                self.conn.drop()
                raise MailboxUnavailable(
                    f"the connection test took longer than {self.test_seconds:g}s: "
                    "check the server names and ports"
                ) from None
            raise
        finally:
            self._deadline = None

    def _open_socket(self, host: str, port: int, timeout: float | None):
        """Every IMAP and SMTP socket: to a checked address, cut at the deadline if one runs."""
        return netguard.connect(
            host, port, timeout, allow_private=self.allow_private, deadline=self._deadline
        )

    def _count_commands(self, conn: IMAPClient) -> None:
        """Count every tagged command: imaplib and imapclient both take a new tag for each."""
        imap = conn._imap
        new_tag = imap._new_tag

        def counting_new_tag():
            self.commands += 1
            return new_tag()

        imap._new_tag = counting_new_tag

    def idle_connection(self) -> IMAPClient | None:
        """A logged-in connection of its own with INBOX selected read-only, for IDLE (RFC 2177);
        None if the server does not offer IDLE. The caller owns and closes it."""
        return self.conn.idle_connection()

    # -- reading (reading.py) --------------------------------------------------------------

    def changes(self, cursor: str | None) -> Changes:
        return self.reader.changes(cursor)

    def thread(self, key: ThreadKey) -> list[MessageSummary]:
        return self.reader.thread(key)

    def with_text(self, messages: Sequence[MessageSummary]) -> list[MessageSummary]:
        return self.reader.with_text(messages)

    def find_message(self, message_id: str) -> MessageSummary | None:
        return self.reader.find_message(message_id)

    def find_sent(self, message_id: str) -> str | None:
        return self.reader.find_sent(message_id)

    def find_delivered(self, message_id: str) -> str | None:
        return self.reader.find_delivered(message_id)

    def recent_sent(self, since: datetime, limit: int = 200) -> list[MessageSummary]:
        return self.reader.recent_sent(since, limit)

    def messages_from(self, address: str, limit: int = 20) -> list[MessageSummary]:
        return self.reader.messages_from(address, limit)

    # -- sending (smtp_send.py) ------------------------------------------------------------

    def send(self, bump: Bump, before_commit: Callable[[], Any] | None = None) -> str:
        return self.sender.send(bump, before_commit)

    # -- writing (triggers.py) -------------------------------------------------------------

    def remind(self, key: ThreadKey) -> None:
        self.triggers.remind(key)

    def ensure_trigger_folders(self) -> None:
        self.triggers.ensure_trigger_folders()

    def message_text(self, ref: str) -> str:
        return self.triggers.message_text(ref)

    def file_away(self, ref: str) -> None:
        self.triggers.file_away(ref)

    def release_trigger(self, ref: str) -> None:
        self.triggers.release_trigger(ref)

    def discard_draft(self, ref: str) -> None:
        self.triggers.discard_draft(ref)

    # -- send later (watcher/later) --------------------------------------------------------

    def read_draft(self, ref: str) -> bytes | None:
        return self.triggers.read_draft(ref)

    def draft_key(self, ref: str) -> str | None:
        """None: IMAP has no draft ids; a draft's versions share its Message-ID instead."""
        return None
