"""Reading an IMAP mailbox: changes by UID cursor, threads, the start of message bodies,
lookups by Message-ID, recent sent mail and mail from one correspondent.

Every read is header-first (BODY.PEEK of SUMMARY_FIELDS); bodies are read only for the few
messages that may be a report or an automatic reply, or when with_text() asks.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from imapclient import IMAPClient
from imapclient import exceptions as imap_errors

from watcher.headers import (
    body_text,
    has_delivery_trace,
    is_marked_draft,
    may_be_auto_reply,
    may_be_report,
    reported_message_ids,
    summarize,
)
from watcher.imap.connection import ImapConnection
from watcher.imap.constants import (
    ALL,
    ARCHIVE,
    CORE_ROLES,
    DRAFT,
    DRAFTS,
    FETCH_CHUNK,
    FILED,
    HEADER_ITEM,
    INBOX,
    LOGICAL_NAMES,
    LOOKUP_CAP,
    REPORT_BODY_ITEM,
    SEARCH_CHUNK,
    SENT,
    SENT_TRIGGER_ROLES,
    TEXT_BODY_ITEM,
    TRIGGER_ROLES,
)
from watcher.imap.cursor import dump_cursor, moved, parse_cursor
from watcher.imap.faults import as_bytes
from watcher.imap.search import quote, searchable_address, thread_criteria, usable_ids
from watcher.mailbox import Changes, MessageSummary, ThreadKey, thread_order

log = logging.getLogger(__name__)


class ImapReader:
    """The reading half of ImapMailbox, over its connection."""

    def __init__(
        self,
        conn: ImapConnection,
        email: str,
        own_addresses: frozenset[str],
        trigger_folders: bool,
    ):
        self.conn = conn
        self.email = email
        self.own_addresses = own_addresses
        self.trigger_folders = trigger_folders

    def changes(self, cursor: str | None) -> Changes:
        """New messages since `cursor` in INBOX and Sent, and with trigger folders on, in the
        trigger folders (`folder` set) and the bump-marked drafts of \\Drafts (`is_draft`).

        Only INBOX or Sent can reset the cursor: a trigger folder that is new to the watched set,
        re-created or gone gets a baseline of its own (or drops out), never a reset.
        """
        with self.conn.session("check for new mail") as c:
            folders = self._watched(c)
            old = parse_cursor(cursor)
            self.conn.unselect(c)  # only after a pass that fetched something: idle stays 2 STATUS
            status = {}
            for role, name in folders.items():
                try:
                    status[role] = self.conn.status(c, name)
                except imap_errors.IMAPClientError:
                    if role in CORE_ROLES:
                        raise
                    log.info("%s: folder %r vanished, not watched this pass", self.email, name)
            new = {
                role: {"name": folders[role], "uidvalidity": v, "uidnext": n}
                for role, (v, n) in status.items()
            }
            reset = old is None or any(moved(old, new, role) for role in CORE_ROLES)
            if reset:
                return Changes([], dump_cursor(new), cursor_reset=True)
            messages: list[MessageSummary] = []
            for role in list(new):
                if moved(old, new, role):  # a trigger folder new to us: this is its baseline
                    continue
                low, high = int(old[role]["uidnext"]), new[role]["uidnext"]
                new[role]["uidnext"] = max(low, high)
                if high <= low:
                    continue
                validity = self.conn.select(c, folders[role])
                if validity != new[role]["uidvalidity"]:  # changed since the STATUS just now
                    del new[role]  # the next pass takes a fresh baseline of this folder
                    if role in CORE_ROLES:
                        return Changes([], dump_cursor(new), cursor_reset=True)
                    continue
                uids = [u for u in self.conn.search(c, ["UID", f"{low}:*"]) if low <= u < high]
                found = [s for _, s in self._summaries(c, role, validity, uids)]
                if role == DRAFTS:  # only drafts marked as bump texts (to me+bump@…)
                    found = [s for s in found if is_marked_draft(s, self.own_addresses)]
                messages.extend(found)
            return Changes(messages, dump_cursor(new))

    def thread(self, key: ThreadKey) -> list[MessageSummary]:
        with self.conn.session("read a thread") as c:
            found: dict[str, MessageSummary] = {}
            for role in self._thread_roles(c):
                for _, s in self.thread_in(c, role, key):
                    found.setdefault(s.message_id or s.ref, s)
            return sorted(found.values(), key=thread_order)

    def with_text(self, messages: Sequence[MessageSummary]) -> list[MessageSummary]:
        """One UID FETCH of BODY.PEEK[]<0.65536> per folder (a SELECT where needed)."""
        by_folder: dict[tuple[str, int], dict[int, str]] = {}
        for m in messages:
            with contextlib.suppress(ValueError):
                role, validity, uid = m.ref.rsplit("/", 2)
                by_folder.setdefault((role, int(validity)), {})[int(uid)] = m.ref
        texts: dict[str, str] = {}
        if by_folder:
            with self.conn.session("read the start of new messages") as c:
                for (role, validity), uids in by_folder.items():
                    name = self.conn.folder_names(c).get(role)
                    try:
                        if name is None or self.conn.selected_validity(c, name) != validity:
                            continue  # gone or renumbered: judged on its headers
                    except imap_errors.IMAPClientError:
                        self.conn.selected = None
                        continue
                    data = c.fetch(sorted(uids), [TEXT_BODY_ITEM])
                    for uid, ref in uids.items():
                        items = data.get(uid, {}).items()
                        body = as_bytes(next((v for k, v in items if k.startswith(b"BODY[]")), b""))
                        if body:
                            texts[ref] = body_text(body)
        return [replace(m, text=texts[m.ref]) if texts.get(m.ref) else m for m in messages]

    def find_message(self, message_id: str) -> MessageSummary | None:
        with self.conn.session("look up a message") as c:
            for role in (SENT, INBOX):
                hits = self.by_message_id(c, role, message_id)
                if hits:
                    return hits[0][1]
            return None

    def find_sent(self, message_id: str) -> str | None:
        with self.conn.session("look for a sent message") as c:
            hits = self.by_message_id(c, SENT, message_id)
            return hits[0][1].ref if hits else None

    def find_delivered(self, message_id: str) -> str | None:
        """A delivered copy of our own message (the bump's receipt copy, see watcher.evidence):
        in INBOX, or wherever it was filed away (\\Archive, Replywatch/Filed)."""
        with self.conn.session("look for a delivered copy") as c:
            names = self.conn.folder_names(c)
            for role in (INBOX, ARCHIVE, FILED):
                if role in names:
                    hits = self.by_message_id(c, role, message_id)
                    if hits:
                        return hits[0][1].ref
            return None

    def recent_sent(self, since: datetime, limit: int = 200) -> list[MessageSummary]:
        """SEARCH SINCE/SENTSINCE the day before `since` (IMAP dates have no time or zone),
        then the Date header decides; newest first."""
        with self.conn.session("list recent sent mail") as c:
            day = (since.astimezone(UTC) - timedelta(days=1)).date()
            validity = self.conn.select(c, self.conn.folder_names(c)[SENT])
            uids = self.conn.search(c, ["OR", "SINCE", day, "SENTSINCE", day])[-LOOKUP_CAP:]
            found = [
                s
                for _, s in self._summaries(c, SENT, validity, uids)
                if s.date is not None and s.date >= since
            ]
            return sorted(found, key=thread_order, reverse=True)[:limit]

    def messages_from(self, address: str, limit: int = 20) -> list[MessageSummary]:
        """SEARCH FROM in INBOX and the \\Archive (or \\All) folder; newest first."""
        address = address.strip().lower()
        if not searchable_address(address):
            return []
        with self.conn.session("look up mail from a correspondent") as c:
            names = self.conn.folder_names(c)
            roles = [r for r in (INBOX, ARCHIVE, ALL) if r in names]
            found: dict[str, MessageSummary] = {}
            for role in roles:
                validity = self.conn.select(c, names[role])
                uids = self.conn.search(c, ["FROM", address])[-LOOKUP_CAP:]
                for _, s in self._summaries(c, role, validity, uids):
                    if s.from_addr == address and not s.in_sent:
                        found.setdefault(s.message_id or s.ref, s)
            return sorted(found.values(), key=thread_order, reverse=True)[:limit]

    def _watched(self, c: IMAPClient) -> dict[str, str]:
        names = self.conn.folder_names(c)
        watched = {INBOX: names[INBOX], SENT: names[SENT]}
        if self.trigger_folders:
            for role in (*TRIGGER_ROLES.values(), DRAFTS):
                if role in names:
                    watched[role] = names[role]
        return watched

    def _thread_roles(self, c: IMAPClient) -> tuple[str, ...]:
        return (ALL,) if self.conn.gmail else (SENT, INBOX)

    def _summaries(
        self, c: IMAPClient, role: str, validity: int, uids: Sequence[int]
    ) -> list[tuple[int, MessageSummary]]:
        """Header summaries of `uids` in the selected folder, in uid order; BODY.PEEK only."""
        items: list[bytes] = [HEADER_ITEM]
        if self.conn.gmail:
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
                labels = {as_bytes(x).lower() for x in item.get(b"X-GM-LABELS", ())}
                summary = summarize(
                    f"{role}/{validity}/{uid}",
                    header or b"",
                    thread_ref=format(int(thrid), "x") if thrid else None,
                    in_sent=role == SENT or b"\\sent" in labels,
                )
                if flagged:
                    flags = {as_bytes(f).lower() for f in item.get(b"FLAGS", ())}
                    # Delivered mail is nobody's draft, even where a server filed it (Drafts,
                    # Bumps): a sender cannot set \Draft, nor keep the delivery trace off.
                    saved = not has_delivery_trace(summary)
                    draft = DRAFT.lower() in flags or (role in (DRAFTS, "Bumps") and saved)
                    sent = summary.in_sent or self.saved_by_user(role, summary)
                    summary = replace(summary, folder=folder, is_draft=draft, in_sent=sent)
                out.append((uid, summary))
        return self._with_reported_ids(c, out)

    def saved_by_user(self, role: str, summary: MessageSummary) -> bool:
        """A message in a trigger folder that the user moved there from Sent, not one a
        server delivered there (some file mail to user+folder@… into that folder): only the
        former is the user's own sent mail. On Gmail the \\Sent label says it instead."""
        if self.conn.gmail or role not in SENT_TRIGGER_ROLES:
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
                bodies[uid] = as_bytes(next((v for k, v in items if k.startswith(b"BODY[]")), b""))
        out = []
        for uid, s in found:
            body = bodies.get(uid)
            if body:
                ids = reported_message_ids(body) if uid in reports else ()
                s = replace(s, reported_ids=ids or s.reported_ids, text=body_text(body))
            out.append((uid, s))
        return out

    def thread_in(
        self, c: IMAPClient, role: str, key: ThreadKey
    ) -> list[tuple[int, MessageSummary]]:
        """(uid, summary) of the thread's messages in one folder (selected read-only)."""
        ids = usable_ids(key.message_ids)
        validity = self.conn.select(c, self.conn.folder_names(c)[role])
        uids: set[int] = set()
        if role == ALL and key.thread_ref:
            with contextlib.suppress(ValueError):
                uids.update(self.conn.search(c, ["X-GM-THRID", int(key.thread_ref, 16)]))
        for start in range(0, len(ids), SEARCH_CHUNK):
            uids.update(self.conn.search(c, thread_criteria(ids[start : start + SEARCH_CHUNK])))
        wanted = set(ids)
        return [
            (uid, s)
            for uid, s in self._summaries(c, role, validity, sorted(uids))
            if s.linked_ids & wanted
            or (key.thread_ref is not None and s.thread_ref == key.thread_ref)
        ]

    def by_message_id(
        self, c: IMAPClient, role: str, message_id: str
    ) -> list[tuple[int, MessageSummary]]:
        if not usable_ids([message_id]):
            return []
        validity = self.conn.select(c, self.conn.folder_names(c)[role])
        uids = self.conn.search(c, f"HEADER Message-ID {quote(message_id)}")
        hits = self._summaries(c, role, validity, uids)
        return [(uid, s) for uid, s in hits if s.message_id == message_id]
