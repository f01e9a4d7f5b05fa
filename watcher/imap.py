"""ImapMailbox: the Mailbox seam over IMAP (imapclient) and SMTP (smtplib).

Folders are found by SPECIAL-USE (\\Sent; \\All on Gmail; \\Drafts, \\Archive), never by a
hard-coded name. Refs are "<role>/<uidvalidity>/<uid>" with role INBOX, Sent, All, Drafts,
Archive, Filed or a trigger role (Trigger3d, Trigger1w, Trigger2w, Bumps: TRIGGER_ROLES), so a
ref survives a folder rename of Sent but not a UIDVALIDITY change (then it is simply not found).

Trigger folders (mailbox.TRIGGER_FOLDERS, BUMPS_FOLDER, FILED_FOLDER) have logical names with
"/" between levels; on the server "/" becomes the hierarchy delimiter of the LIST answer, after
the personal namespace prefix "INBOX<delimiter>" when the server keeps Sent under INBOX (Courier,
Cyrus style). Both are read from the one LIST a connection makes anyway: no extra command.

Cost: an idle `changes()` is one STATUS per watched folder (INBOX, Sent), whatever the size of
the mailbox; only folders whose UIDNEXT grew are selected, searched and fetched, and only for
the new UIDs. With AccountSpec.trigger_folders on, each trigger folder that exists on the server
and the \\Drafts folder add one STATUS each (so 5 more per idle pass with all of them present);
without it nothing changes. `self.commands` counts every IMAP command sent after the greeting.

Every exception that leaves this module is a ReplywatchError with a one-line, user-readable
message that never contains a password: see `_map_error`.
"""

from __future__ import annotations

import contextlib
import functools
import imaplib
import json
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from imapclient import IMAPClient
from imapclient import exceptions as imap_errors

from watcher import netguard
from watcher.errors import (
    AuthFailed,
    MailboxProtocolError,
    MailboxUnavailable,
    NotFoundError,
    ReplywatchError,
    SendRejected,
    SendUnconfirmed,
)
from watcher.evidence import evidence_for, receipt_address
from watcher.headers import (
    MSGID_RE,
    SUMMARY_FIELDS,
    body_text,
    has_delivery_trace,
    is_marked_draft,
    may_be_auto_reply,
    may_be_report,
    reported_message_ids,
    summarize,
)
from watcher.mailbox import (
    BODY_READ_LIMIT,
    BUMPS_FOLDER,
    FILED_FOLDER,
    TRIGGER_FOLDERS,
    AccountSpec,
    Bump,
    Changes,
    MessageSummary,
    ThreadKey,
)

log = logging.getLogger(__name__)

INBOX, SENT, ALL = "INBOX", "Sent", "All"  # folder roles, as used in refs and cursors
DRAFTS, ARCHIVE, FILED = "Drafts", "Archive", "Filed"
# logical trigger folder -> its role; the roles are what refs and cursors name
TRIGGER_ROLES: dict[str, str] = {
    **{logical: "Trigger" + spec for logical, spec in TRIGGER_FOLDERS.items()},
    BUMPS_FOLDER: "Bumps",
}
LOGICAL_NAMES: dict[str, str] = {
    **{role: logical for logical, role in TRIGGER_ROLES.items()},
    FILED: FILED_FOLDER,
}
# The folders a sent message is moved into to get a follow-up (not Bumps: drafts go there).
SENT_TRIGGER_ROLES = frozenset(TRIGGER_ROLES[logical] for logical in TRIGGER_FOLDERS)
CORE_ROLES = (INBOX, SENT)  # a change of these resets the cursor; of the others, a baseline
CURSOR_VERSION = 1
SECURITY = ("ssl", "starttls", "none")
DEFAULT_PORTS = {
    "imap": {"ssl": 993, "starttls": 143, "none": 143},
    "smtp": {"ssl": 465, "starttls": 587, "none": 25},
}
HEADER_ITEM = b"BODY.PEEK[HEADER.FIELDS (" + " ".join(SUMMARY_FIELDS).encode() + b")]"
FETCH_CHUNK = 200  # uids per FETCH
REPORT_BODY_ITEM = b"BODY.PEEK[]<0.262144>"  # enough of a bounce to find the original's id
# The start of a message to judge (with_text, and possible auto-replies): its first text part.
TEXT_BODY_ITEM = b"BODY.PEEK[]<0.%d>" % BODY_READ_LIMIT
SEARCH_CHUNK = 10  # message ids per SEARCH (3 HEADER criteria each)
# RFC 5530 response codes that mean "try again later" rather than "this will never work".
TRANSIENT_CODES = ("UNAVAILABLE", "INUSE", "SERVERBUG", "LIMIT", "CONTACTADMIN", "OVERQUOTA")
# Flags and SPECIAL-USE attributes (RFC 3501, RFC 6154).
SEEN, FLAGGED, SENT_USE, ALL_USE = b"\\Seen", b"\\Flagged", b"\\Sent", b"\\All"
DELETED, DRAFT = b"\\Deleted", b"\\Draft"
DRAFTS_USE, ARCHIVE_USE = b"\\Drafts", b"\\Archive"
BODY_ITEM = b"BODY.PEEK[]<0.262144>"  # message_text(): enough for the readable start
LOOKUP_CAP = 1000  # newest UIDs per folder that recent_sent()/messages_from() look at
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.I)
_COPYUID = re.compile(rb"\[COPYUID (\d+) \S+ (\d+)\]", re.I)


class ImapMailbox:
    # SMTP servers mostly do not file what they relay, and our copy is appended afterwards:
    # a missing copy in Sent proves nothing about a hand-over that broke off.
    sent_copy_is_authoritative = False

    """One IMAP/SMTP account. Connects lazily; use as a context manager or call close()."""

    def __init__(self, spec: AccountSpec, config: Any):
        s = spec.settings
        self.email = spec.email
        self.imap_security = _security(s.get("imap_security", "ssl"), "imap_security")
        self.smtp_security = _security(s.get("smtp_security", "starttls"), "smtp_security")
        self.imap_host = s["imap_host"]
        self.imap_port = int(s.get("imap_port") or DEFAULT_PORTS["imap"][self.imap_security])
        self.imap_username = s.get("imap_username") or spec.email
        self.smtp_host = s.get("smtp_host") or self.imap_host
        self.smtp_port = int(s.get("smtp_port") or DEFAULT_PORTS["smtp"][self.smtp_security])
        self.smtp_username = s.get("smtp_username") or self.imap_username
        self.own_addresses = frozenset(a.lower() for a in (spec.email, *spec.aliases))
        self.trigger_folders = bool(spec.trigger_folders)
        self.send_evidence = evidence_for(s)  # see watcher.evidence
        self.receipts: set[str] = set()  # bumps whose receipt copy the server took (RCPT 250)
        self.save_sent = s.get("save_sent", "auto")
        if self.save_sent not in ("auto", "always", "never"):
            raise ValueError(f"save_sent must be auto, always or never, not {self.save_sent!r}")
        self.imap_timeout = float(config.imap_timeout)
        self.smtp_timeout = float(config.smtp_timeout)
        # netguard: public mail servers only, unless the operator allows local ones.
        self.allow_private = bool(getattr(config, "allow_private_mail_hosts", False))
        self.test_seconds = float(getattr(config, "connection_test_seconds", 20.0))
        self._deadline: netguard.Deadline | None = None  # set while check() runs
        self._imap_password, self._smtp_password = _passwords(spec.secret)
        self.commands = 0  # IMAP commands sent, for tests and benchmarks
        self._conn: IMAPClient | None = None
        self._smtp: smtplib.SMTP | None = None  # kept across the bumps of one pass
        self._gmail = False
        self._folders: dict[str, str] | None = None  # role -> server folder name
        self._delimiter, self._prefix = "/", ""  # from the same LIST as _folders
        self._selected: tuple[str, bool] | None = None  # (folder, read-only) now selected
        self._validity = 0  # UIDVALIDITY of the selected folder

    def __repr__(self) -> str:
        return f"ImapMailbox({self.email!r})"

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Log out quietly; the next call connects again."""
        if self._smtp is not None:
            _quit(self._smtp)
            self._smtp = None
        conn, self._conn, self._folders, self._selected = self._conn, None, None, None
        if conn is None:
            return
        try:
            conn.logout()
        except Exception:  # closing must never fail
            with contextlib.suppress(Exception):
                conn.shutdown()

    def check(self) -> None:
        """Log in to IMAP (and find the Sent folder) and to SMTP; raise on the first problem.
        The whole test runs under one deadline (Config.connection_test_seconds)."""
        self._deadline = netguard.Deadline(self.test_seconds)
        try:
            with self._deadline:
                with self._imap("log in") as c:
                    self._folder_names(c)
                smtp = self._smtp_connect()
                _quit(smtp)
        except ReplywatchError:
            if self._deadline.passed:
                self._drop()
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

    # -- reading ---------------------------------------------------------------------------

    def changes(self, cursor: str | None) -> Changes:
        """New messages since `cursor` in INBOX and Sent, and with trigger folders on, in the
        trigger folders (`folder` set) and the bump-marked drafts of \\Drafts (`is_draft`).

        Only INBOX or Sent can reset the cursor: a trigger folder that is new to the watched set,
        re-created or gone gets a baseline of its own (or drops out), never a reset.
        """
        with self._imap("check for new mail") as c:
            folders = self._watched(c)
            old = _parse_cursor(cursor)
            self._unselect(c)  # only after a pass that fetched something: idle stays 2 STATUS
            status = {}
            for role, name in folders.items():
                try:
                    status[role] = self._status(c, name)
                except imap_errors.IMAPClientError:
                    if role in CORE_ROLES:
                        raise
                    log.info("%s: folder %r vanished, not watched this pass", self.email, name)
            new = {
                role: {"name": folders[role], "uidvalidity": v, "uidnext": n}
                for role, (v, n) in status.items()
            }
            reset = old is None or any(_moved(old, new, role) for role in CORE_ROLES)
            if reset:
                return Changes([], _dump_cursor(new), cursor_reset=True)
            messages: list[MessageSummary] = []
            for role in list(new):
                if _moved(old, new, role):  # a trigger folder new to us: this is its baseline
                    continue
                low, high = int(old[role]["uidnext"]), new[role]["uidnext"]
                new[role]["uidnext"] = max(low, high)
                if high <= low:
                    continue
                validity = self._select(c, folders[role])
                if validity != new[role]["uidvalidity"]:  # changed since the STATUS just now
                    del new[role]  # the next pass takes a fresh baseline of this folder
                    if role in CORE_ROLES:
                        return Changes([], _dump_cursor(new), cursor_reset=True)
                    continue
                uids = [u for u in self._search(c, ["UID", f"{low}:*"]) if low <= u < high]
                found = [s for _, s in self._summaries(c, role, validity, uids)]
                if role == DRAFTS:  # only drafts marked as bump texts (to me+bump@…)
                    found = [s for s in found if is_marked_draft(s, self.own_addresses)]
                messages.extend(found)
            return Changes(messages, _dump_cursor(new))

    def thread(self, key: ThreadKey) -> list[MessageSummary]:
        with self._imap("read a thread") as c:
            found: dict[str, MessageSummary] = {}
            for role in self._thread_roles(c):
                for _, s in self._thread_in(c, role, key):
                    found.setdefault(s.message_id or s.ref, s)
            return sorted(found.values(), key=_order)

    def with_text(self, messages: Sequence[MessageSummary]) -> list[MessageSummary]:
        """One UID FETCH of BODY.PEEK[]<0.65536> per folder (a SELECT where needed)."""
        by_folder: dict[tuple[str, int], dict[int, str]] = {}
        for m in messages:
            with contextlib.suppress(ValueError):
                role, validity, uid = m.ref.rsplit("/", 2)
                by_folder.setdefault((role, int(validity)), {})[int(uid)] = m.ref
        texts: dict[str, str] = {}
        if by_folder:
            with self._imap("read the start of new messages") as c:
                for (role, validity), uids in by_folder.items():
                    name = self._folder_names(c).get(role)
                    try:
                        if name is None or self._selected_validity(c, name) != validity:
                            continue  # gone or renumbered: judged on its headers
                    except imap_errors.IMAPClientError:
                        self._selected = None
                        continue
                    data = c.fetch(sorted(uids), [TEXT_BODY_ITEM])
                    for uid, ref in uids.items():
                        items = data.get(uid, {}).items()
                        body = _bytes(next((v for k, v in items if k.startswith(b"BODY[]")), b""))
                        if body:
                            texts[ref] = body_text(body)
        return [replace(m, text=texts[m.ref]) if texts.get(m.ref) else m for m in messages]

    def find_message(self, message_id: str) -> MessageSummary | None:
        with self._imap("look up a message") as c:
            for role in (SENT, INBOX):
                hits = self._by_message_id(c, role, message_id)
                if hits:
                    return hits[0][1]
            return None

    def find_sent(self, message_id: str) -> str | None:
        with self._imap("look for a sent message") as c:
            hits = self._by_message_id(c, SENT, message_id)
            return hits[0][1].ref if hits else None

    def find_delivered(self, message_id: str) -> str | None:
        """A delivered copy of our own message (the bump's receipt copy, see watcher.evidence):
        in INBOX, or wherever it was filed away (\\Archive, Replywatch/Filed)."""
        with self._imap("look for a delivered copy") as c:
            names = self._folder_names(c)
            for role in (INBOX, ARCHIVE, FILED):
                if role in names:
                    hits = self._by_message_id(c, role, message_id)
                    if hits:
                        return hits[0][1].ref
            return None

    # -- writing ---------------------------------------------------------------------------

    def send(self, bump: Bump, before_commit: Callable[[], Any] | None = None) -> str:
        where = f"{self.smtp_host}:{self.smtp_port}"
        smtp = self._smtp_session()
        self._smtp = None  # owned by this send until it ends well
        in_data = False
        try:
            code, text = self._smtp_step(smtp, "MAIL FROM", smtp.mail, bump.sender)
            if code != 250:
                raise _smtp_refusal(code, f"{where} refused the sender {bump.sender}", text)
            refused = {}
            for rcpt in bump.recipients:
                code, text = self._smtp_step(smtp, "RCPT TO", smtp.rcpt, rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, text)
            if refused and len(refused) == len(bump.recipients):
                names = ", ".join(refused)
                code, text = next(iter(refused.values()))
                if all(400 <= c < 500 for c, _ in refused.values()):
                    raise MailboxUnavailable(
                        _clip(f"{where} deferred every recipient ({names}): {code} {text}")
                    )
                raise SendRejected(
                    _clip(f"{where} refused every recipient ({names}): {code} {text}")
                )
            if refused:
                log.warning(
                    "%s refused some recipients of %s: %s",
                    where,
                    bump.message_id,
                    ", ".join(f"{r} ({c})" for r, (c, _) in refused.items()),
                )
            self._ask_for_receipt(smtp, bump)
            # DATA as smtplib does it, split before the final "." so that the point of no
            # return is as late as it can be: until the dot, the server discards the message
            # if we die, so a crash before it is safely retried; only a crash between marking
            # and the dot (microseconds) or after it (delivered) leaves the bump unconfirmed.
            code, text = self._smtp_step(smtp, "DATA", smtp.docmd, "data")
            if code != 354:
                raise _smtp_refusal(code, f"{where} did not take {bump.message_id}", text)
            in_data = True  # from here an abort must drop the line: a QUIT would be message text
            try:
                smtp.send(_dot_stuffed(bump.raw))
            except Exception as exc:
                raise (self._map_error(exc, "SMTP", "DATA") or exc) from None
            if before_commit is not None:
                before_commit()
            try:
                smtp.send(b".\r\n")
                code, text = smtp.getreply()
                text = _text(text)
            except (OSError, smtplib.SMTPException) as exc:
                reason = _describe_os_error(exc, self.smtp_timeout)
                raise SendUnconfirmed(
                    f"the connection to {where} broke while sending {bump.message_id} "
                    f"({reason}): it may or may not have gone out"
                ) from None
            in_data = False
            if code != 250:
                raise _smtp_refusal(code, f"{where} did not accept {bump.message_id}", text)
        except BaseException:
            if in_data:
                smtp.close()  # the server discards a message whose final "." never came
            else:
                _quit(smtp)
            raise
        self._smtp = smtp  # a clean session: the next bump of this pass reuses it
        return self._keep_sent_copy(bump)

    def _ask_for_receipt(self, smtp: smtplib.SMTP, bump: Bump) -> None:
        """The user's own receipt plus-address as one more envelope recipient (never a header):
        its delivered copy later proves the server took the message (watcher.evidence)."""
        self.receipts.discard(bump.message_id)
        if self.send_evidence != "receipt" or not bump.message_id.startswith("<rw."):
            return  # only bumps, which the engine settles by evidence
        address = receipt_address(self.email)
        code, _ = self._smtp_step(smtp, "RCPT TO", smtp.rcpt, address)
        if code in (250, 251):
            self.receipts.add(bump.message_id)
        else:  # no receipt for this one: an unsure hand-over of it is asked about
            log.warning(
                "%s refused the receipt address of %s: %s", self.smtp_host, bump.message_id, code
            )

    def _smtp_session(self) -> smtplib.SMTP:
        """The pass's SMTP session if it is still good (RSET answers), else a new one."""
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                if smtp.rset()[0] == 250:
                    return smtp
            except (OSError, smtplib.SMTPException):
                pass
            with contextlib.suppress(Exception):
                smtp.close()
        return self._smtp_connect()

    def remind(self, key: ThreadKey) -> None:
        with self._imap("bring a thread back to the inbox") as c:
            if self._gmail:
                hits = self._thread_in(c, ALL, key)
                if not hits:
                    raise NotFoundError("no message of this thread is left in the mailbox")
                uid = max(hits, key=lambda h: _order(h[1]))[0]
                self._select(c, self._folder_names(c)[ALL], readonly=False)
                c.add_gmail_labels([uid], [b"\\Inbox"])
                self._mark_unread_flagged(c, uid)
                return
            inbox = self._thread_in(c, INBOX, key)
            if inbox:
                uid = max(inbox, key=lambda h: _order(h[1]))[0]
                self._select(c, self._folder_names(c)[INBOX], readonly=False)
                self._mark_unread_flagged(c, uid)
                return
            sent = self._thread_in(c, SENT, key)
            if not sent:
                raise NotFoundError("no message of this thread is left in INBOX or Sent")
            uid, latest = max(sent, key=lambda h: _order(h[1]))
            names = self._folder_names(c)
            self._select(c, names[SENT])  # COPY leaves the source untouched: read-only is enough
            response = _bytes(c.copy([uid], names[INBOX]))
            match = _COPYUID.search(response)
            if match:
                new_uid = int(match.group(2))
            else:  # no UIDPLUS: find the copy by its Message-ID (the newest one)
                copies = self._by_message_id(c, INBOX, latest.message_id)
                if not copies:
                    raise MailboxProtocolError("the copied message did not appear in INBOX")
                new_uid = max(uid for uid, _ in copies)
            self._select(c, names[INBOX], readonly=False)
            self._mark_unread_flagged(c, new_uid)

    # -- triggers --------------------------------------------------------------------------

    def ensure_trigger_folders(self) -> None:
        with self._imap("create the Replywatch folders") as c:
            for logical in (*TRIGGER_FOLDERS, BUMPS_FOLDER):
                self._ensure_folder(c, logical)

    def message_text(self, ref: str) -> str:
        with self._imap("read a message") as c:
            uid = self._open_ref(c, ref, readonly=True)
            if uid is None:
                return ""
            items = c.fetch([uid], [BODY_ITEM]).get(uid, {}).items()
            body = _bytes(next((v for k, v in items if k.startswith(b"BODY[]")), b""))
            return body_text(body) if body else ""

    def file_away(self, ref: str) -> None:
        """Marked \\Seen, then moved to \\Archive (Gmail: All Mail, which archives), else to
        FILED_FOLDER, created on demand."""
        with self._imap("file a message away") as c:
            names = self._folder_names(c)
            target = names.get(ARCHIVE) or (names.get(ALL) if self._gmail else None)
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
        with self._imap("take a message out of a Replywatch folder") as c:
            uid = self._open_ref(c, ref, readonly=False)
            if uid is None:
                return
            if self._gmail:
                c.add_flags([uid], [DELETED], silent=True)
                self._expunge(c, uid)
                return
            items = c.fetch([uid], [HEADER_ITEM]).get(uid)
            if not items:
                return
            header = next((v for k, v in items.items() if k.startswith(b"BODY[HEADER")), b"")
            summary = summarize(ref, header or b"")
            saved = self._saved_by_user(ref.rsplit("/", 2)[0], summary)
            names = self._folder_names(c)
            sent = replace(summary, in_sent=saved).sent_by_user(self.own_addresses)
            self._move(c, uid, names[SENT] if sent else names[INBOX])

    def discard_draft(self, ref: str) -> None:
        """\\Deleted + UID EXPUNGE (without UIDPLUS the draft is only marked \\Deleted: a
        plain EXPUNGE would also remove what the user marked)."""
        with self._imap("delete a draft") as c:
            uid = self._open_ref(c, ref, readonly=False)
            if uid is None:
                return
            c.add_flags([uid], [DELETED], silent=True)
            self._expunge(c, uid)

    def recent_sent(self, since: datetime, limit: int = 200) -> list[MessageSummary]:
        """SEARCH SINCE/SENTSINCE the day before `since` (IMAP dates have no time or zone),
        then the Date header decides; newest first."""
        with self._imap("list recent sent mail") as c:
            day = (since.astimezone(UTC) - timedelta(days=1)).date()
            validity = self._select(c, self._folder_names(c)[SENT])
            uids = self._search(c, ["OR", "SINCE", day, "SENTSINCE", day])[-LOOKUP_CAP:]
            found = [
                s
                for _, s in self._summaries(c, SENT, validity, uids)
                if s.date is not None and s.date >= since
            ]
            return sorted(found, key=_order, reverse=True)[:limit]

    def messages_from(self, address: str, limit: int = 20) -> list[MessageSummary]:
        """SEARCH FROM in INBOX and the \\Archive (or \\All) folder; newest first."""
        address = address.strip().lower()
        if not _searchable_address(address):
            return []
        with self._imap("look up mail from a correspondent") as c:
            names = self._folder_names(c)
            roles = [r for r in (INBOX, ARCHIVE, ALL) if r in names]
            found: dict[str, MessageSummary] = {}
            for role in roles:
                validity = self._select(c, names[role])
                uids = self._search(c, ["FROM", address])[-LOOKUP_CAP:]
                for _, s in self._summaries(c, role, validity, uids):
                    if s.from_addr == address and not s.in_sent:
                        found.setdefault(s.message_id or s.ref, s)
            return sorted(found.values(), key=_order, reverse=True)[:limit]

    def _ensure_folder(self, c: IMAPClient, logical: str) -> str:
        """The server name of a logical folder, created and subscribed if missing; a folder
        another process created meanwhile is fine."""
        name = self._server_name(c, logical)
        if name in self._folder_names(c).values() or c.folder_exists(name):
            return name
        try:
            c.create_folder(name)
        except imap_errors.IMAPClientError:
            if not c.folder_exists(name):  # not "already exists": a real refusal
                raise
        with contextlib.suppress(imap_errors.IMAPClientError):
            c.subscribe_folder(name)  # clients show subscribed folders only
        self._folders = None  # LIST again next time: it is there now
        return name

    def _server_name(self, c: IMAPClient, logical: str) -> str:
        self._folder_names(c)  # reads the delimiter and the prefix
        return self._prefix + logical.replace("/", self._delimiter)

    def _open_ref(self, c: IMAPClient, ref: str, readonly: bool) -> int | None:
        """Select the folder of `ref` and return its uid; None if the folder, its UIDVALIDITY
        or the message is gone (never an error: the user may have moved or deleted it)."""
        try:
            role, validity, uid = ref.rsplit("/", 2)
            validity_n, uid_n = int(validity), int(uid)
        except ValueError:
            return None
        name = self._folder_names(c).get(role)
        if name is None:
            return None
        try:
            current = self._select(c, name, readonly=readonly)
        except imap_errors.IMAPClientError:  # deleted since the LIST
            self._selected = None
            return None
        if current != validity_n or not self._search(c, ["UID", str(uid_n)]):
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

    # -- IMAP plumbing ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _imap(self, action: str) -> Iterator[IMAPClient]:
        """Yield a logged-in client; map every library error to ours, dropping dead links."""
        try:
            yield self._client()
        except ReplywatchError:
            raise
        except Exception as exc:
            err = self._map_error(exc, "IMAP", action)
            if err is None:
                raise
            if not isinstance(err, MailboxProtocolError):
                self._drop()
            raise err from None

    def idle_connection(self) -> IMAPClient | None:
        """A logged-in connection of its own with INBOX selected read-only, for IDLE (RFC 2177);
        None if the server does not offer IDLE. The caller owns and closes it."""
        with self._imap("watch the inbox") as c:
            self._conn = None  # hand it over: this mailbox will not use it again
            if b"IDLE" not in c.capabilities():
                with contextlib.suppress(Exception):
                    c.logout()
                return None
            c.select_folder("INBOX", readonly=True)
            return c

    def _client(self) -> IMAPClient:
        if self._conn is not None:
            return self._conn
        conn = None
        try:
            context = _tls_context() if self.imap_security != "none" else None
            conn = netguard.GuardedIMAPClient(
                self.imap_host,
                self.imap_port,
                ssl=self.imap_security == "ssl",
                ssl_context=context if self.imap_security == "ssl" else None,
                timeout=self.imap_timeout,
                opener=self._open_socket,
            )
            self._count_commands(conn)
            if self.imap_security == "starttls":
                conn.starttls(context)
            conn.login(self.imap_username, self._imap_password)
            self._gmail = b"X-GM-EXT-1" in conn.capabilities()
        except Exception as exc:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.shutdown()
            err = self._map_error(exc, "IMAP", "connect")
            if err is None:
                raise
            raise err from None
        self._conn = conn
        return conn

    def _count_commands(self, conn: IMAPClient) -> None:
        """Count every tagged command: imaplib and imapclient both take a new tag for each."""
        imap = conn._imap
        new_tag = imap._new_tag

        def counting_new_tag():
            self.commands += 1
            return new_tag()

        imap._new_tag = counting_new_tag

    def _drop(self) -> None:
        conn, self._conn, self._folders, self._selected = self._conn, None, None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.shutdown()

    def _folder_names(self, c: IMAPClient) -> dict[str, str]:
        """role -> folder name, from one LIST (SPECIAL-USE flags); cached per connection.

        Also reads the hierarchy delimiter and namespace prefix, and which trigger folders
        (and FILED_FOLDER) exist: only those get a role here.
        """
        if self._folders is None:
            names = {INBOX: "INBOX"}
            listed = c.list_folders()
            uses = ((SENT, SENT_USE), (ALL, ALL_USE), (DRAFTS, DRAFTS_USE), (ARCHIVE, ARCHIVE_USE))
            for flags, _, name in listed:
                lowered = {f.lower() for f in flags}
                for role, use in uses:
                    if role not in names and use.lower() in lowered:
                        names[role] = name
            if SENT not in names:  # no \Sent flag anywhere: imapclient's well-known names
                sent = c.find_special_folder(SENT_USE)
                if sent:
                    names[SENT] = sent
            if SENT not in names:
                raise MailboxProtocolError(
                    f"no Sent folder found on {self.imap_host}: the server marks none as \\Sent"
                )
            if self._gmail and ALL not in names:
                raise MailboxProtocolError(f"no All Mail folder found on {self.imap_host}")
            delimiter = next((_text(d) for _, d, n in listed if d and n.upper() == "INBOX"), "")
            self._delimiter = delimiter or next((_text(d) for _, d, _ in listed if d), "/")
            inbox_child = "INBOX" + self._delimiter
            self._prefix = (
                names[SENT][: len(inbox_child)]
                if names[SENT].upper().startswith(inbox_child.upper())
                else ""
            )
            existing = {name for _, _, name in listed}
            for role, logical in LOGICAL_NAMES.items():
                name = self._prefix + logical.replace("/", self._delimiter)
                if name in existing:
                    names[role] = name
            self._folders = names
        return self._folders

    def _watched(self, c: IMAPClient) -> dict[str, str]:
        names = self._folder_names(c)
        watched = {INBOX: names[INBOX], SENT: names[SENT]}
        if self.trigger_folders:
            for role in (*TRIGGER_ROLES.values(), DRAFTS):
                if role in names:
                    watched[role] = names[role]
        return watched

    def _thread_roles(self, c: IMAPClient) -> tuple[str, ...]:
        return (ALL,) if self._gmail else (SENT, INBOX)

    def _status(self, c: IMAPClient, name: str) -> tuple[int, int]:
        st = c.folder_status(name, [b"UIDVALIDITY", b"UIDNEXT"])
        return int(st[b"UIDVALIDITY"]), int(st[b"UIDNEXT"])

    def _select(self, c: IMAPClient, name: str, readonly: bool = True) -> int:
        self._selected = (name, readonly)
        self._validity = int(c.select_folder(name, readonly=readonly)[b"UIDVALIDITY"])
        return self._validity

    def _selected_validity(self, c: IMAPClient, name: str) -> int:
        """UIDVALIDITY of `name`, selected read-only; no SELECT if it is selected already (its
        UIDVALIDITY cannot change while selected: RFC 3501 2.3.1.1)."""
        if self._selected == (name, True):
            return self._validity
        return self._select(c, name)

    def _unselect(self, c: IMAPClient) -> None:
        """Leave the selected folder: STATUS SHOULD NOT be used on it (RFC 3501 6.3.10)."""
        if self._selected is None:
            return
        name, readonly = self._selected
        if c.has_capability("UNSELECT"):
            c.unselect_folder()
        else:  # CLOSE expunges a read-write folder: make it read-only first
            if not readonly:
                c.select_folder(name, readonly=True)
            c.close_folder()
        self._selected = None

    def _search(self, c: IMAPClient, criteria: Any) -> list[int]:
        return sorted(int(u) for u in c.search(criteria))

    def _summaries(
        self, c: IMAPClient, role: str, validity: int, uids: Sequence[int]
    ) -> list[tuple[int, MessageSummary]]:
        """Header summaries of `uids` in the selected folder, in uid order; BODY.PEEK only."""
        items: list[bytes] = [HEADER_ITEM]
        if self._gmail:
            items += [b"X-GM-THRID", b"X-GM-LABELS"]
        flagged = role in LOGICAL_NAMES or role == DRAFTS
        if flagged:
            items.append(b"FLAGS")
        folder = LOGICAL_NAMES.get(role, "") if role != FILED else ""
        out = []
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = list(uids[start : start + FETCH_CHUNK])
            data = c.fetch(chunk, items)
            for uid in chunk:
                item = data.get(uid)
                if not item:  # expunged in the meantime
                    continue
                header = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"")
                thrid = item.get(b"X-GM-THRID")
                labels = {_bytes(x).lower() for x in item.get(b"X-GM-LABELS", ())}
                summary = summarize(
                    f"{role}/{validity}/{uid}",
                    header or b"",
                    thread_ref=format(int(thrid), "x") if thrid else None,
                    in_sent=role == SENT or b"\\sent" in labels,
                )
                if flagged:
                    flags = {_bytes(f).lower() for f in item.get(b"FLAGS", ())}
                    # Delivered mail is nobody's draft, even where a server filed it (Drafts,
                    # Bumps): a sender cannot set \Draft, nor keep the delivery trace off.
                    saved = not has_delivery_trace(summary)
                    draft = DRAFT.lower() in flags or (role in (DRAFTS, "Bumps") and saved)
                    sent = summary.in_sent or self._saved_by_user(role, summary)
                    summary = replace(summary, folder=folder, is_draft=draft, in_sent=sent)
                out.append((uid, summary))
        return self._with_reported_ids(c, out)

    def _saved_by_user(self, role: str, summary: MessageSummary) -> bool:
        """A message in a trigger folder that the user moved there from Sent, not one a
        server delivered there (some file mail to user+folder@… into that folder): only the
        former is the user's own sent mail. On Gmail the \\Sent label says it instead."""
        if self._gmail or role not in SENT_TRIGGER_ROLES:
            return False
        return not has_delivery_trace(summary)

    def _with_reported_ids(
        self, c: IMAPClient, found: list[tuple[int, MessageSummary]]
    ) -> list[tuple[int, MessageSummary]]:
        """Read the bodies of the few messages that need it, and fill in what they say.

        Bounces name the original only in their body (reported_ids), and their delivery-status
        fields (failed address, diagnostic) go into `text`; a possible auto-reply gets the start
        of its text for the return date. Everything else stays header-only.
        """
        reports = [uid for uid, s in found if may_be_report(s)]
        skip = set(reports)
        autos = [uid for uid, s in found if uid not in skip and may_be_auto_reply(s)]
        if not reports and not autos:
            return found
        bodies: dict[int, bytes] = {}
        for uids, item in ((reports, REPORT_BODY_ITEM), (autos, TEXT_BODY_ITEM)):
            if not uids:
                continue
            data = c.fetch(uids, [item])
            for uid in uids:
                items = data.get(uid, {}).items()
                bodies[uid] = _bytes(next((v for k, v in items if k.startswith(b"BODY[]")), b""))
        out = []
        for uid, s in found:
            body = bodies.get(uid)
            if body:
                ids = reported_message_ids(body) if uid in reports else ()
                s = replace(s, reported_ids=ids or s.reported_ids, text=body_text(body))
            out.append((uid, s))
        return out

    def _thread_in(
        self, c: IMAPClient, role: str, key: ThreadKey
    ) -> list[tuple[int, MessageSummary]]:
        """(uid, summary) of the thread's messages in one folder (selected read-only)."""
        ids = _usable_ids(key.message_ids)
        validity = self._select(c, self._folder_names(c)[role])
        uids: set[int] = set()
        if role == ALL and key.thread_ref:
            with contextlib.suppress(ValueError):
                uids.update(self._search(c, ["X-GM-THRID", int(key.thread_ref, 16)]))
        for start in range(0, len(ids), SEARCH_CHUNK):
            uids.update(self._search(c, _thread_criteria(ids[start : start + SEARCH_CHUNK])))
        wanted = set(ids)
        return [
            (uid, s)
            for uid, s in self._summaries(c, role, validity, sorted(uids))
            if s.linked_ids & wanted
            or (key.thread_ref is not None and s.thread_ref == key.thread_ref)
        ]

    def _by_message_id(
        self, c: IMAPClient, role: str, message_id: str
    ) -> list[tuple[int, MessageSummary]]:
        if not _usable_ids([message_id]):
            return []
        validity = self._select(c, self._folder_names(c)[role])
        uids = self._search(c, f"HEADER Message-ID {_quote(message_id)}")
        hits = self._summaries(c, role, validity, uids)
        return [(uid, s) for uid, s in hits if s.message_id == message_id]

    def _mark_unread_flagged(self, c: IMAPClient, uid: int) -> None:
        c.remove_flags([uid], [SEEN], silent=True)
        c.add_flags([uid], [FLAGGED], silent=True)

    def _keep_sent_copy(self, bump: Bump) -> str:
        """A copy in Sent per save_sent; trouble here is logged, never a failed send."""
        fallback = "smtp:" + bump.message_id
        if self.save_sent == "never":
            return fallback
        try:
            with self._imap("keep a copy in Sent") as c:
                if self.save_sent == "auto":
                    hits = self._by_message_id(c, SENT, bump.message_id)
                    if hits:  # the server filed it itself (Gmail does)
                        return hits[0][1].ref
                name = self._folder_names(c)[SENT]
                response = _bytes(c.append(name, bump.raw, flags=[SEEN]))
                match = _APPENDUID.search(response)
                if match:
                    return f"{SENT}/{int(match.group(1))}/{int(match.group(2))}"
                hits = self._by_message_id(c, SENT, bump.message_id)
                return hits[-1][1].ref if hits else fallback
        except ReplywatchError as exc:
            log.warning("sent %s but could not keep a copy in Sent: %s", bump.message_id, exc)
            return fallback

    # -- SMTP plumbing ---------------------------------------------------------------------

    def _smtp_connect(self) -> smtplib.SMTP:
        smtp = None
        try:
            context = _tls_context() if self.smtp_security != "none" else None
            if self.smtp_security == "ssl":
                smtp = netguard.GuardedSMTPSSL(
                    self.smtp_host,
                    self.smtp_port,
                    timeout=self.smtp_timeout,
                    context=context,
                    opener=self._open_socket,
                )
            else:
                smtp = netguard.GuardedSMTP(
                    self.smtp_host,
                    self.smtp_port,
                    timeout=self.smtp_timeout,
                    opener=self._open_socket,
                )
            smtp.ehlo()
            if self.smtp_security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.smtp_username:
                smtp.login(self.smtp_username, self._smtp_password)
            return smtp
        except Exception as exc:
            if smtp is not None:
                with contextlib.suppress(Exception):
                    smtp.close()
            err = self._map_error(exc, "SMTP", "connect")
            if err is None:
                raise
            raise err from None

    def _smtp_step(self, smtp: smtplib.SMTP, what: str, fn: Callable, *args) -> tuple[int, str]:
        """One SMTP command before DATA: nothing was handed over yet, so errors are plain."""
        try:
            code, text = fn(*args)
        except Exception as exc:
            err = self._map_error(exc, "SMTP", what)
            if err is None:
                raise
            raise err from None
        return code, _text(text)

    # -- errors ----------------------------------------------------------------------------

    def _map_error(self, exc: BaseException, service: str, action: str) -> ReplywatchError | None:
        """Our error for a library/socket error, or None if `exc` is not one (a bug: re-raise).

        Messages are one line, name the server and never contain a password.
        """
        imap = service == "IMAP"
        host, port = (self.imap_host, self.imap_port) if imap else (self.smtp_host, self.smtp_port)
        where = f"{host}:{port}"
        user = self.imap_username if imap else self.smtp_username
        timeout = self.imap_timeout if imap else self.smtp_timeout
        err: ReplywatchError | None
        # Before we are logged in, the far end is anybody's: repeat only protocol codes of
        # what it said, never its words (a non-mail service's banner must not come back).
        said = _codes_only if action in UNTRUSTED_ACTIONS else _text
        if isinstance(exc, imap_errors.LoginError | smtplib.SMTPAuthenticationError):
            err = AuthFailed(
                f"{service} login refused for {user}: check the user name and password"
            )
        elif isinstance(exc, smtplib.SMTPNotSupportedError):
            err = MailboxProtocolError(f"{where} does not support {action}: {said(exc)}")
        elif isinstance(exc, ssl.SSLCertVerificationError):
            err = MailboxProtocolError(
                f"the TLS certificate of {where} could not be verified: "
                f"{exc.verify_message or exc.reason}"
            )
        elif isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError):
            err = MailboxUnavailable(f"the TLS connection to {where} was cut")
        elif isinstance(exc, ssl.SSLError):
            err = MailboxProtocolError(
                f"TLS with {where} failed ({exc.reason or 'handshake error'}): "
                f"check the port and the security setting"
            )
        elif isinstance(exc, imaplib.IMAP4.abort | smtplib.SMTPServerDisconnected):
            err = MailboxUnavailable(f"the connection to {where} was lost during {action}")
        elif isinstance(exc, imaplib.IMAP4.error | imap_errors.IMAPClientError):
            text = _text(exc)
            cls = (
                MailboxUnavailable
                if any(f"[{code}" in text.upper() for code in TRANSIENT_CODES)
                else MailboxProtocolError
            )
            err = cls(f"the IMAP server {host} refused to {action}: {said(exc)}")
        elif isinstance(exc, smtplib.SMTPResponseException):
            err = _smtp_refusal(
                exc.smtp_code, f"the SMTP server {host} refused {action}", said(exc.smtp_error)
            )
        elif isinstance(exc, smtplib.SMTPException):
            err = MailboxProtocolError(
                f"the SMTP server {host} failed during {action}: {said(exc)}"
            )
        elif isinstance(exc, OSError):
            if action == "connect":
                err = MailboxUnavailable(
                    f"cannot reach {where}: {_describe_os_error(exc, timeout)}"
                )
            else:
                err = MailboxUnavailable(
                    f"the connection to {where} failed during {action}: "
                    f"{_describe_os_error(exc, timeout)}"
                )
        else:
            return None
        err = type(err)(self._scrub(err.message))
        return err

    def _scrub(self, text: str) -> str:
        for secret in (self._imap_password, self._smtp_password):
            if secret:
                text = text.replace(secret, "***")
        return _clip(text)

    # -- send later (watcher.later) --------------------------------------------------------

    def read_draft(self, ref: str) -> bytes | None:
        """The whole raw draft (BODY.PEEK[], nothing marked read); None if it is gone."""
        with self._imap("read a draft") as c:
            uid = self._open_ref(c, ref, readonly=True)
            if uid is None:
                return None
            items = c.fetch([uid], [b"BODY.PEEK[]"]).get(uid, {}).items()
            body = _bytes(next((v for k, v in items if k.startswith(b"BODY[]")), b""))
            return body or None

    def draft_key(self, ref: str) -> str | None:
        """None: IMAP has no draft ids; a draft's versions share its Message-ID instead."""
        return None


# -- small helpers -------------------------------------------------------------------------


def _security(value: str, name: str) -> str:
    value = (value or "").lower()
    if value not in SECURITY:
        raise ValueError(f"{name} must be one of {', '.join(SECURITY)}, not {value!r}")
    return value


def _passwords(secret: str) -> tuple[str, str]:
    """(imap_password, smtp_password) from the JSON secret; a bare string serves both."""
    try:
        data = json.loads(secret)
    except (TypeError, ValueError):
        data = None
    if not isinstance(data, dict):
        return secret, secret
    imap_pw = data.get("imap_password") or data.get("password") or ""
    return imap_pw, data.get("smtp_password") or imap_pw


def _parse_cursor(cursor: str | None) -> dict[str, dict] | None:
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        if data.get("v") != CURSOR_VERSION:
            return None
        folders = data["folders"]
        for entry in folders.values():
            int(entry["uidvalidity"])
            int(entry["uidnext"])
        return folders
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def _moved(old: dict[str, dict], new: dict[str, dict], role: str) -> bool:
    """True if `role` has no usable earlier state: new to the cursor, re-created (UIDVALIDITY)
    or now a different folder (renamed Sent). A role gone from `new` counts as moved."""
    if role not in new or role not in old:
        return True
    was, now = old[role], new[role]
    return (
        int(was["uidvalidity"]) != now["uidvalidity"]
        or was.get("name", now["name"]) != (now["name"])
    )


def _searchable_address(address: str) -> bool:
    """A bare address safe to put in a SEARCH / Gmail query (no spaces, quotes, parens)."""
    return bool(
        re.fullmatch(r"[^\s\"()<>@]+@[^\s\"()<>@]+", address)
        and address.isascii()
        and address.isprintable()
    )


def _dump_cursor(folders: dict[str, dict]) -> str:
    return json.dumps({"v": CURSOR_VERSION, "folders": folders}, sort_keys=True)


def _usable_ids(ids: Iterable[str]) -> list[str]:
    """Well-formed, printable-ASCII "<...>" ids (safe to put in an IMAP quoted string)."""
    return sorted(
        i for i in set(ids) if MSGID_RE.fullmatch(i or "") and i.isascii() and i.isprintable()
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _thread_criteria(ids: Sequence[str]) -> str:
    """One SEARCH key matching any message that names any of `ids` (balanced OR tree)."""
    terms = [
        f"HEADER {field} {_quote(i)}"
        for i in ids
        for field in ("Message-ID", "In-Reply-To", "References")
    ]

    def tree(ts: Sequence[str]) -> str:
        if len(ts) == 1:
            return ts[0]
        mid = len(ts) // 2
        return f"OR ({tree(ts[:mid])}) ({tree(ts[mid:])})"

    return tree(terms)


def _order(s: MessageSummary) -> tuple:
    """Oldest first; within one second a reply (longer chain) sorts after what it answers."""
    stamp = s.date.timestamp() if s.date else float("-inf")
    return (stamp, len(s.references) + len(s.in_reply_to), s.ref)


def _smtp_refusal(code: int, what: str, text: str) -> ReplywatchError:
    message = _clip(f"{what}: {code} {text}")
    return MailboxUnavailable(message) if 400 <= code < 500 else SendRejected(message)


def _describe_os_error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "server disconnected"
    return (getattr(exc, "strerror", None) or type(exc).__name__).lower()


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _text(value: Any) -> str:
    """A server reply or exception as plain one-line text (no b'...' wrapping)."""
    if isinstance(value, BaseException):
        value = value.args[0] if len(value.args) == 1 else " ".join(map(str, value.args))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = str(value)
    text = re.sub(r"b'([^']*)'", r"\1", text)
    text = re.sub(r'b"([^"]*)"', r"\1", text)
    return " ".join(text.split())


# Actions before the server has accepted our login: its words are not repeated (_codes_only).
UNTRUSTED_ACTIONS = frozenset({"connect", "log in"})
# RFC 5530 response codes (and ALERT, RFC 3501): the only IMAP words shown from such a server.
IMAP_RESPONSE_CODES = frozenset(
    [
        "ALERT",
        "UNAVAILABLE",
        "AUTHENTICATIONFAILED",
        "AUTHORIZATIONFAILED",
        "EXPIRED",
        "PRIVACYREQUIRED",
        "CONTACTADMIN",
        "NOPERM",
        "INUSE",
        "EXPUNGEISSUED",
        "CORRUPTION",
        "SERVERBUG",
        "CLIENTBUG",
        "CANNOT",
        "LIMIT",
        "OVERQUOTA",
        "ALREADYEXISTS",
        "NONEXISTENT",
    ]
)
_ENHANCED_STATUS = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")  # RFC 3463: 5.7.8


def _codes_only(value: Any) -> str:
    """A short, sanitised reason: the IMAP response codes and SMTP enhanced status codes the
    text carries, nothing else of it."""
    text = _text(value)
    codes = [c for c in re.findall(r"\[([A-Z]+)", text.upper()) if c in IMAP_RESPONSE_CODES]
    codes += _ENHANCED_STATUS.findall(text)
    return " ".join(f"[{c}]" if c in IMAP_RESPONSE_CODES else c for c in codes[:3]) or (
        "no usable answer"
    )


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying client context per process: loading the CA store costs ~40 ms."""
    return ssl.create_default_context()


def _dot_stuffed(raw: bytes) -> bytes:
    """The message body as DATA carries it (RFC 5321 4.5.2), without the final "." line."""
    body = re.sub(rb"(?m)^\.", b"..", raw)
    return body if body.endswith(b"\r\n") else body + b"\r\n"


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except Exception:  # the send already succeeded or failed by now
        with contextlib.suppress(Exception):
            smtp.close()
