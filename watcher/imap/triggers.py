"""Writing to an IMAP mailbox: remind() (back to the inbox, unread, flagged), the Replywatch
trigger folders (created, a trigger released), filing a trigger's inbox copy away, a draft's
text and its deletion. A message that is gone is never an error: the user may have moved it."""

from __future__ import annotations

import contextlib
from dataclasses import replace

from imapclient import IMAPClient
from imapclient import exceptions as imap_errors

from watcher.errors import MailboxProtocolError, NotFoundError
from watcher.headers import body_text, summarize
from watcher.imap.connection import ImapConnection
from watcher.imap.constants import (
    ALL,
    ARCHIVE,
    BODY_ITEM,
    COPYUID,
    DELETED,
    FLAGGED,
    HEADER_ITEM,
    INBOX,
    SEEN,
    SENT,
)
from watcher.imap.faults import as_bytes
from watcher.imap.reading import ImapReader
from watcher.mailbox import BUMPS_FOLDER, FILED_FOLDER, TRIGGER_FOLDERS, ThreadKey, thread_order


class ImapTriggers:
    """What ImapMailbox writes besides sending, over its connection and reader."""

    def __init__(self, conn: ImapConnection, reader: ImapReader, own_addresses: frozenset[str]):
        self.conn = conn
        self.reader = reader
        self.own_addresses = own_addresses

    def remind(self, key: ThreadKey) -> None:
        with self.conn.session("bring a thread back to the inbox") as c:
            if self.conn.gmail:
                hits = self.reader.thread_in(c, ALL, key)
                if not hits:
                    raise NotFoundError("no message of this thread is left in the mailbox")
                uid = max(hits, key=lambda h: thread_order(h[1]))[0]
                self.conn.select(c, self.conn.folder_names(c)[ALL], readonly=False)
                c.add_gmail_labels([uid], [b"\\Inbox"])
                self._mark_unread_flagged(c, uid)
                return
            inbox = self.reader.thread_in(c, INBOX, key)
            if inbox:
                uid = max(inbox, key=lambda h: thread_order(h[1]))[0]
                self.conn.select(c, self.conn.folder_names(c)[INBOX], readonly=False)
                self._mark_unread_flagged(c, uid)
                return
            sent = self.reader.thread_in(c, SENT, key)
            if not sent:
                raise NotFoundError("no message of this thread is left in INBOX or Sent")
            uid, latest = max(sent, key=lambda h: thread_order(h[1]))
            names = self.conn.folder_names(c)
            # COPY leaves the source untouched: read-only is enough
            self.conn.select(c, names[SENT])
            response = as_bytes(c.copy([uid], names[INBOX]))
            match = COPYUID.search(response)
            if match:
                new_uid = int(match.group(2))
            else:  # no UIDPLUS: find the copy by its Message-ID (the newest one)
                copies = self.reader.by_message_id(c, INBOX, latest.message_id)
                if not copies:
                    raise MailboxProtocolError("the copied message did not appear in INBOX")
                new_uid = max(uid for uid, _ in copies)
            self.conn.select(c, names[INBOX], readonly=False)
            self._mark_unread_flagged(c, new_uid)

    def ensure_trigger_folders(self) -> None:
        with self.conn.session("create the Replywatch folders") as c:
            for logical in (*TRIGGER_FOLDERS, BUMPS_FOLDER):
                self._ensure_folder(c, logical)

    def message_text(self, ref: str) -> str:
        with self.conn.session("read a message") as c:
            uid = self._open_ref(c, ref, readonly=True)
            if uid is None:
                return ""
            items = c.fetch([uid], [BODY_ITEM]).get(uid, {}).items()
            body = as_bytes(next((v for k, v in items if k.startswith(b"BODY[]")), b""))
            return body_text(body) if body else ""

    def read_draft(self, ref: str) -> bytes | None:
        """The whole raw draft (BODY.PEEK[], nothing marked read); None if it is gone."""
        with self.conn.session("read a draft") as c:
            uid = self._open_ref(c, ref, readonly=True)
            if uid is None:
                return None
            items = c.fetch([uid], [b"BODY.PEEK[]"]).get(uid, {}).items()
            body = as_bytes(next((v for k, v in items if k.startswith(b"BODY[]")), b""))
            return body or None

    def file_away(self, ref: str) -> None:
        """Marked \\Seen, then moved to \\Archive (Gmail: All Mail, which archives), else to
        FILED_FOLDER, created on demand."""
        with self.conn.session("file a message away") as c:
            names = self.conn.folder_names(c)
            target = names.get(ARCHIVE) or (names.get(ALL) if self.conn.gmail else None)
            if target is None:
                target = self._ensure_folder(c, FILED_FOLDER)
            uid = self._open_ref(c, ref, readonly=False)
            if uid is None:
                return
            c.add_flags([uid], [SEEN], silent=True)
            self._move(c, uid, target)

    def release_trigger(self, ref: str) -> None:
        """Back to Sent if the user sent it (From one of their addresses and no delivery
        trace: see _saved_by_user), else to INBOX. On Gmail the trigger folder is a label:
        expunging there only removes that label."""
        with self.conn.session("take a message out of a Replywatch folder") as c:
            uid = self._open_ref(c, ref, readonly=False)
            if uid is None:
                return
            if self.conn.gmail:
                c.add_flags([uid], [DELETED], silent=True)
                self._expunge(c, uid)
                return
            items = c.fetch([uid], [HEADER_ITEM]).get(uid)
            if not items:
                return
            header = next((v for k, v in items.items() if k.startswith(b"BODY[HEADER")), b"")
            summary = summarize(ref, header or b"")
            saved = self.reader.saved_by_user(ref.rsplit("/", 2)[0], summary)
            names = self.conn.folder_names(c)
            sent = replace(summary, in_sent=saved).sent_by_user(self.own_addresses)
            self._move(c, uid, names[SENT] if sent else names[INBOX])

    def discard_draft(self, ref: str) -> None:
        """\\Deleted + UID EXPUNGE (without UIDPLUS the draft is only marked \\Deleted: a
        plain EXPUNGE would also remove what the user marked)."""
        with self.conn.session("delete a draft") as c:
            uid = self._open_ref(c, ref, readonly=False)
            if uid is None:
                return
            c.add_flags([uid], [DELETED], silent=True)
            self._expunge(c, uid)

    def _ensure_folder(self, c: IMAPClient, logical: str) -> str:
        """The server name of a logical folder, created and subscribed if missing; a folder
        another process created meanwhile is fine."""
        name = self.conn.server_name(c, logical)
        if name in self.conn.folder_names(c).values() or c.folder_exists(name):
            return name
        try:
            c.create_folder(name)
        except imap_errors.IMAPClientError:
            if not c.folder_exists(name):  # not "already exists": a real refusal
                raise
        with contextlib.suppress(imap_errors.IMAPClientError):
            c.subscribe_folder(name)  # clients show subscribed folders only
        self.conn.folders = None  # LIST again next time: it is there now
        return name

    def _open_ref(self, c: IMAPClient, ref: str, readonly: bool) -> int | None:
        """Select the folder of `ref` and return its uid; None if the folder, its UIDVALIDITY
        or the message is gone (never an error: the user may have moved or deleted it)."""
        try:
            role, validity, uid = ref.rsplit("/", 2)
            validity_n, uid_n = int(validity), int(uid)
        except ValueError:
            return None
        name = self.conn.folder_names(c).get(role)
        if name is None:
            return None
        try:
            current = self.conn.select(c, name, readonly=readonly)
        except imap_errors.IMAPClientError:  # deleted since the LIST
            self.conn.selected = None
            return None
        if current != validity_n or not self.conn.search(c, ["UID", str(uid_n)]):
            return None
        return uid_n

    def _move(self, c: IMAPClient, uid: int, target: str) -> None:
        """MOVE (RFC 6851), else COPY + \\Deleted + UID EXPUNGE; flags travel along."""
        if c.has_capability("MOVE"):
            c.move([uid], target)
            return
        c.copy([uid], target)
        c.add_flags([uid], [DELETED], silent=True)
        self._expunge(c, uid)

    def _expunge(self, c: IMAPClient, uid: int) -> None:
        if c.has_capability("UIDPLUS"):
            c.uid_expunge([uid])

    def _mark_unread_flagged(self, c: IMAPClient, uid: int) -> None:
        c.remove_flags([uid], [SEEN], silent=True)
        c.add_flags([uid], [FLAGGED], silent=True)
