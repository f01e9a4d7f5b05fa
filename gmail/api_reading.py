"""Reading a Gmail mailbox: changes by historyId, threads, the start of message bodies,
lookups by Message-ID (rfc822msgid: searches), recent sent mail and mail from one correspondent.

Messages are read in format=metadata; the raw body only for the few that may be a bounce or an
auto-reply, or when with_text()/message_text() ask.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from gmail.api_labels import GmailLabels
from gmail.api_sending import sent_here
from gmail.api_transport import GmailTransport
from gmail.payload import to_mime as payload_to_mime
from watcher.errors import NotFoundError
from watcher.headers import (
    MSGID_RE,
    SUMMARY_FIELDS,
    body_text,
    is_marked_draft,
    may_be_auto_reply,
    may_be_report,
    reported_message_ids,
    summarize,
)
from watcher.mailbox import (
    BUMPS_FOLDER,
    TEXT_LIMIT,
    Changes,
    MessageSummary,
    ThreadKey,
    thread_order,
)

METADATA_HEADERS = ["-".join(p.capitalize() for p in f.split("-")) for f in SUMMARY_FIELDS]
SKIP_LABELS = frozenset({"DRAFT", "SPAM", "TRASH"})
NEVER_LABELS = frozenset({"SPAM", "TRASH"})  # skipped even with trigger folders on
HISTORY_PAGE = 500  # Gmail's maximum
SEARCH_CHUNK = 10  # Message-IDs per `rfc822msgid:a OR rfc822msgid:b ...` query


class GmailReader:
    """The reading half of GmailMailbox."""

    def __init__(
        self,
        api: GmailTransport,
        labels: GmailLabels,
        own_addresses: frozenset[str],
        trigger_folders: bool,
    ):
        self.api = api
        self.labels = labels
        self.email = api.email
        self.own_addresses = own_addresses
        self.trigger_folders = trigger_folders

    def changes(self, cursor: str | None) -> Changes:
        """Messages added since `cursor`; with trigger folders on, also messages that got a
        Replywatch trigger/Bumps label (`folder` set) and drafts that carry the Bumps label or
        are addressed to the user's me+bump@… (`is_draft`). Other drafts stay skipped."""
        start = _parse_cursor(cursor)
        current = int(self.api.profile("check for new mail")["historyId"])
        if start is None:
            return Changes([], str(current), cursor_reset=True)
        if current <= start:
            return Changes([], str(start))  # nothing at all happened: 1 unit
        users = self.api.svc().users()
        types = ["messageAdded", "labelAdded"] if self.trigger_folders else ["messageAdded"]
        added: dict[str, None] = {}  # new messages, in order
        labelled: dict[str, set[str]] = {}  # message id -> user label ids seen added
        latest, page = str(current), None
        while True:
            request = users.history().list(
                userId="me",
                startHistoryId=str(start),
                historyTypes=types,
                maxResults=HISTORY_PAGE,
                pageToken=page,
            )
            try:
                response = self.api.call("history.list", request, "check for new mail")
            except NotFoundError:  # history expired: the engine re-reads what it tracks
                return Changes([], str(current), cursor_reset=True)
            for record in response.get("history", []):
                for item in record.get("messagesAdded", []):
                    message = item.get("message", {})
                    labels = set(message.get("labelIds", []))
                    skip = NEVER_LABELS if self.trigger_folders else SKIP_LABELS
                    if not skip & labels:
                        added[message["id"]] = None
                        labelled.setdefault(message["id"], set()).update(_user_labels(labels))
                for item in record.get("labelsAdded", []):
                    ids = _user_labels(item.get("labelIds", []))
                    if ids:
                        message_id = item.get("message", {}).get("id")
                        labelled.setdefault(message_id, set()).update(ids)
            latest = str(response.get("historyId", latest))
            page = response.get("nextPageToken")
            if not page:
                break
        ours = sent_here(self.email)
        wanted = {i: None for i in added if i not in ours or labelled.get(i)}
        if self.trigger_folders and any(labelled.values()):
            triggers = self.labels.trigger_label_ids()
            for message_id, ids in labelled.items():
                if ids & triggers.keys():
                    wanted[message_id] = None
        messages = []
        for message_id in wanted:
            message = self._get_message(message_id)
            if message is None or NEVER_LABELS & set(message.get("labelIds", [])):
                continue
            summary = self._trigger_summary(message, labelled.get(message_id, set()))
            if summary is not None and (message_id in added or summary.folder):
                messages.append(summary)
        return Changes(messages, latest)

    def _trigger_summary(self, message: dict, seen: set[str]) -> MessageSummary | None:
        """The summary of a changed message, `folder`/`is_draft` filled; None for a draft
        that is no bump text (neither Bumps-labelled nor addressed to me+bump@…)."""
        labels = set(message.get("labelIds", []))
        draft = "DRAFT" in labels
        if draft and not self.trigger_folders:
            return None
        folder = ""
        if self.trigger_folders and seen & labels:
            triggers = self.labels.trigger_label_ids()
            folder = next((triggers[i] for i in sorted(seen & labels) if i in triggers), "")
        summary = replace(self._summary(message), folder=folder, is_draft=draft)
        if draft and folder != BUMPS_FOLDER and not is_marked_draft(summary, self.own_addresses):
            return None
        return summary

    def thread(self, key: ThreadKey) -> list[MessageSummary]:
        found: dict[str, MessageSummary] = {}
        thread_ids = [key.thread_ref] if key.thread_ref else self.thread_ids(key.message_ids)
        searched = not key.thread_ref
        for thread_id in thread_ids:  # grows if a stored threadId is gone
            try:
                data = self._read_thread(thread_id)
            except NotFoundError:
                if not searched:
                    searched = True
                    thread_ids.extend(
                        t for t in self.thread_ids(key.message_ids) if t not in thread_ids
                    )
                continue
            for message in data.get("messages", []):
                if not SKIP_LABELS & set(message.get("labelIds", [])):
                    summary = self._summary(message)
                    found[summary.ref] = summary
        return sorted(found.values(), key=thread_order)

    def with_text(self, messages: Sequence[MessageSummary]) -> list[MessageSummary]:
        """messages.get format=full (5 units) per message: its parts with the text parts'
        content and only an id for attachments, so a big attachment is never transferred;
        read as IMAP's text (gmail/payload.py rebuilds the MIME message for body_text)."""
        out = []
        for m in messages:
            request = self.api.svc().users().messages().get(userId="me", id=m.ref, format="full")
            try:
                message = self.api.call("messages.get", request, "read a message")
            except NotFoundError:  # deleted since it was listed: judged on its headers
                out.append(m)
                continue
            payload = message.get("payload")
            text = body_text(payload_to_mime(payload)) if payload else ""
            out.append(replace(m, text=text[:TEXT_LIMIT]) if text else m)
        return out

    def find_message(self, message_id: str) -> MessageSummary | None:
        hits = self._search(f"rfc822msgid:{message_id}", "look up a message", message_id)
        summaries = [s for s in (self._get_summary(h["id"]) for h in hits[:5]) if s is not None]
        summaries.sort(key=lambda s: not s.in_sent)  # Sent first, as ImapMailbox does
        return summaries[0] if summaries else None

    def find_sent(self, message_id: str) -> str | None:
        hits = self._search(
            f"rfc822msgid:{message_id} in:sent", "look for a sent message", message_id
        )
        return hits[0]["id"] if hits else None

    def message_text(self, ref: str) -> str:
        raw = self._raw(ref)
        return body_text(raw) if raw else ""

    def recent_sent(self, since: datetime, limit: int = 200) -> list[MessageSummary]:
        q = f"in:sent after:{int(since.timestamp())}"
        found = self._listed(q, limit, "list recent sent mail")
        found = [s for s in found if s.date is not None and s.date >= since]
        return sorted(found, key=thread_order, reverse=True)[:limit]

    def messages_from(self, address: str, limit: int = 20) -> list[MessageSummary]:
        address = address.strip().lower()
        if not _searchable_address(address):
            return []
        found = self._listed(f"from:{address} -in:sent", limit, "look up mail from someone")
        found = [s for s in found if s.from_addr == address and not s.in_sent]
        return sorted(found, key=thread_order, reverse=True)[:limit]

    def _listed(self, q: str, limit: int, what: str) -> list[MessageSummary]:
        """Summaries of the first `limit` hits of a search (newest first, as Gmail lists)."""
        users, hits, page = self.api.svc().users(), [], None
        while len(hits) < limit:
            size = min(limit - len(hits), 500)
            request = users.messages().list(userId="me", q=q, maxResults=size, pageToken=page)
            response = self.api.call("messages.list", request, what)
            hits.extend(response.get("messages", []))
            page = response.get("nextPageToken")
            if not page:
                break
        return [s for s in (self._get_summary(h["id"]) for h in hits[:limit]) if s is not None]

    def _read_thread(self, thread_id: str) -> dict:
        request = (
            self.api.svc()
            .users()
            .threads()
            .get(userId="me", id=thread_id, format="metadata", metadataHeaders=METADATA_HEADERS)
        )
        return self.api.call("threads.get", request, "read a thread")

    def _get_summary(self, gmail_id: str) -> MessageSummary | None:
        message = self._get_message(gmail_id)
        if message is None or SKIP_LABELS & set(message.get("labelIds", [])):
            return None
        return self._summary(message)

    def _get_message(self, gmail_id: str) -> dict | None:
        """One message in format=metadata; None if it was deleted since it was listed."""
        request = (
            self.api.svc()
            .users()
            .messages()
            .get(userId="me", id=gmail_id, format="metadata", metadataHeaders=METADATA_HEADERS)
        )
        try:
            return self.api.call("messages.get", request, "read a message")
        except NotFoundError:
            return None

    def _summary(self, message: dict) -> MessageSummary:
        """A MessageSummary from a format=metadata message; the body only when it matters."""
        headers = [(h["name"], h["value"]) for h in message.get("payload", {}).get("headers", [])]
        labels = set(message.get("labelIds", []))
        summary = summarize(
            message["id"], headers, thread_ref=message.get("threadId"), in_sent="SENT" in labels
        )
        if summary.date is None and message.get("internalDate"):
            stamp = int(message["internalDate"]) / 1000
            summary = replace(summary, date=datetime.fromtimestamp(stamp, UTC))
        report, auto = may_be_report(summary), may_be_auto_reply(summary)
        if not (report or auto):
            return summary
        raw = self._raw(message["id"])
        if raw is None:
            return summary
        extra: dict = {}
        if report:
            extra["reported_ids"] = reported_message_ids(raw)
        # The same readable start of the body ImapMailbox gives (delivery-status fields first
        # for reports: the failed address, the diagnostic, a delay told from a failure).
        text = body_text(raw) or html.unescape(message.get("snippet", ""))
        extra["text"] = text[:TEXT_LIMIT]
        return replace(summary, **extra)

    def raw(self, gmail_id: str) -> bytes | None:
        return self._raw(gmail_id)

    def _raw(self, gmail_id: str) -> bytes | None:
        request = self.api.svc().users().messages().get(userId="me", id=gmail_id, format="raw")
        try:
            message = self.api.call("messages.get", request, "read a message")
        except NotFoundError:
            return None
        data = message.get("raw", "")
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))

    def _search(self, q: str, what: str, *ids: str) -> list[dict]:
        if not all(_searchable(i) for i in ids):
            return []
        request = self.api.svc().users().messages().list(userId="me", q=q, maxResults=50)
        return self.api.call("messages.list", request, what).get("messages", [])

    def thread_ids(self, message_ids: Iterable[str]) -> list[str]:
        """Gmail threads holding any of these Message-IDs (rfc822msgid: search, chunked)."""
        ids = sorted(i for i in set(message_ids) if _searchable(i))
        found: dict[str, None] = {}
        for n in range(0, len(ids), SEARCH_CHUNK):
            q = " OR ".join(f"rfc822msgid:{i}" for i in ids[n : n + SEARCH_CHUNK])
            for hit in self._search(q, "look for a thread"):
                found[hit["threadId"]] = None
        return list(found)


def _parse_cursor(cursor: str | None) -> int | None:
    if not cursor or not cursor.strip().isdigit():
        return None
    return int(cursor)


def _user_labels(ids: Iterable[str]) -> set[str]:
    """The user-made label ids among `ids` (Gmail names them Label_<n>; system ids are
    upper-case words such as INBOX or CATEGORY_SOCIAL)."""
    return {i for i in ids if i.startswith("Label_")}


def _searchable_address(address: str) -> bool:
    """A bare address safe inside a Gmail search term (no spaces, quotes, parentheses)."""
    return bool(
        re.fullmatch(r"[^\s\"(){}<>@:]+@[^\s\"(){}<>@:]+", address)
        and address.isascii()
        and address.isprintable()
    )


def _searchable(message_id: str) -> bool:
    """A well-formed "<...>" id that is safe inside a Gmail search term."""
    return bool(
        MSGID_RE.fullmatch(message_id or "")
        and message_id.isascii()
        and message_id.isprintable()
        and not set(message_id) & set('"(){}')
    )
