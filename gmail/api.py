"""GmailMailbox: the Mailbox seam over the Gmail API (google-api-python-client).

Endpoints come from Config only (google_gmail_endpoint is the client's `api_endpoint`, with the
static discovery document shipped in the wheel; google_token_uri is where the stored refresh
token is exchanged for access tokens), so tests run the real libraries against local emulators.

Cost in Gmail quota units (Google's table: getProfile 1, history.list 2, messages.get/list 5,
threads.get/modify 10, messages.send 100):
- `changes()` when nothing happened: one getProfile (1 unit) whose historyId equals the cursor;
  otherwise history.list pages (2 each) from the stored historyId, then one messages.get
  (format=metadata, 5) per added message, plus a format=raw read (5) only for the few that may
  be a bounce or an auto-reply. It grows with what changed, never with the tracked threads.
- With AccountSpec.trigger_folders on, history.list also asks for labelAdded; labels.list (1)
  runs at most once per mailbox object, and only when a record names a user label; a new draft
  costs its messages.get (5) to see whether it is bump-marked. The idle pass stays 1 unit.
- Triggers: ensure_trigger_folders() labels.list + labels.create (5) per missing label;
  message_text() messages.get raw (5); file_away() messages.modify (5); release_trigger()
  messages.modify (5) + labels.list once; discard_draft() drafts.list (5 a page) + drafts.delete
  (10); recent_sent()/messages_from() messages.list (5 a page) + messages.get (5) per message.
- `with_text()` (the engine, for each new message in a tracked thread whose body it has not
  read yet) one messages.get format=full (5) per message; never on an idle pass.
- `thread()` one threads.get (10) by Gmail threadId; `find_sent()` one messages.list with
  q=rfc822msgid: (5); `find_message()` that plus a messages.get; `send()` 100; `remind()`
  threads.modify (10) plus labels.list (1) once per mailbox object.

Refs: a message ref is its Gmail message id; `thread_ref` is the Gmail threadId; the cursor is
the mailbox's historyId as a decimal string.

Concurrency: one GmailMailbox is used by one thread at a time (the engine opens one per account
per pass). Requests of all GmailMailbox objects of one account in this process share a
semaphore of Config.gmail_max_concurrent slots, so several watcher threads or the web app
cannot exceed Gmail's per-user concurrency. Access tokens are cached in process memory (keyed
by a hash of the refresh token) so a pass every minute does not refresh every minute.

Sending goes through google-auth's requests transport rather than httplib2: httplib2 silently
sends a request a second time when the connection drops before the answer (see
httplib2.Http._conn_request), which for messages.send would be a second bump. A connection
error after the request may have been written raises SendUnconfirmed instead.

Every exception that leaves this module is a ReplywatchError with a one-line message that never
contains a token: see `_map_error`.
"""

from __future__ import annotations

import base64
import contextlib
import email.parser
import email.policy
import email.utils
import hashlib
import html
import http.client
import json
import logging
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import google_auth_httplib2
import httplib2
import requests
from google.auth.exceptions import RefreshError, TransportError
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as AuthRequest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from gmail.payload import to_mime as payload_to_mime
from watcher.errors import (
    AuthFailed,
    MailboxProtocolError,
    MailboxUnavailable,
    NotFoundError,
    ReplywatchError,
    SendRejected,
    SendUnconfirmed,
)
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
    TRIGGER_FOLDERS,
    AccountSpec,
    Bump,
    Changes,
    MessageSummary,
    ThreadKey,
)

log = logging.getLogger(__name__)

# Google's quota units per method ("Usage limits" of the Gmail API reference), as counted by
# watcher.metrics (replywatch_gmail_quota_units_total).
QUOTA_UNITS = {
    "getProfile": 1,
    "history.list": 2,
    "labels.list": 1,
    "labels.create": 5,
    "messages.get": 5,
    "messages.list": 5,
    "messages.modify": 5,
    "messages.send": 100,
    "drafts.list": 5,
    "drafts.get": 5,
    "drafts.delete": 10,
    "threads.get": 10,
    "threads.modify": 10,
    "watch": 100,
    "stop": 50,
}

SCOPES = ("https://www.googleapis.com/auth/gmail.modify",)
METADATA_HEADERS = ["-".join(p.capitalize() for p in f.split("-")) for f in SUMMARY_FIELDS]
SKIP_LABELS = frozenset({"DRAFT", "SPAM", "TRASH"})
NEVER_LABELS = frozenset({"SPAM", "TRASH"})  # skipped even with trigger folders on
REMIND_LABEL = "Replywatch"
WATCH_LABELS = ("INBOX", "SENT")  # what users.watch publishes (see watch())
HISTORY_PAGE = 500  # Gmail's maximum
SEARCH_CHUNK = 10  # Message-IDs per `rfc822msgid:a OR rfc822msgid:b ...` query
RATE_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"}
)
SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
_RETRY_AFTER_TEXT = re.compile(r"Retry after (\S+)", re.I)

_TOKENS: dict[str, tuple[str, datetime | None]] = {}  # hash -> (access token, naive UTC expiry)
_SLOTS: dict[str, threading.BoundedSemaphore] = {}
_SHARED = threading.Lock()
# account -> Gmail ids of the bumps this process sent (newest last): when one comes back
# through history it is not fetched again (5 quota units each); the engine recorded it already.
_SENT_HERE: dict[str, OrderedDict[str, None]] = {}
SENT_MEMORY = 1000


class GmailMailbox:
    # Gmail files every sent message in Sent as part of sending: no copy there, nothing sent.
    sent_copy_is_authoritative = True

    """One Google account over the Gmail API. Builds its client lazily; close() releases it."""

    def __init__(self, spec: AccountSpec, config: Any):
        self.email = spec.email.strip().lower()
        self.endpoint = config.google_gmail_endpoint
        self.token_uri = config.google_token_uri
        self.client_id = config.google_client_id
        self._client_secret = config.google_client_secret
        self._refresh_token = _refresh_token(spec.secret)
        self.timeout = float(config.gmail_timeout)
        self.calls: Counter = Counter()  # Gmail API method -> requests made, for tests/benches
        self._token_key = hashlib.sha256(
            f"{self.token_uri}\0{self.client_id}\0{self._refresh_token}".encode()
        ).hexdigest()
        with _SHARED:
            self._slot = _SLOTS.setdefault(
                self.email, threading.BoundedSemaphore(max(1, int(config.gmail_max_concurrent)))
            )
        self._creds: Credentials | None = None
        self._service = None
        self._label_id: str | None = None
        self.own_addresses = frozenset(a.lower() for a in (spec.email, *spec.aliases))
        self.trigger_folders = bool(spec.trigger_folders)
        self._trigger_labels: dict[str, str] | None = None  # label id -> logical folder name
        # Message-ID -> how a send went other than asked (the engine puts it in the Event).
        self.send_notes: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"GmailMailbox({self.email!r})"

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> GmailMailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        service, self._service = self._service, None
        if service is not None:
            try:
                service.close()
            except Exception:  # closing must never fail
                log.debug("closing the Gmail client failed", exc_info=True)

    def check(self) -> None:
        """Fetch the profile: proves the token works and belongs to this address."""
        profile = self._profile("check the account")
        address = str(profile.get("emailAddress", "")).lower()
        if address != self.email:
            raise AuthFailed(
                f"the Google authorization is for {address}, not {self.email}: "
                "connect the right account"
            )

    # -- reading ---------------------------------------------------------------------------

    def changes(self, cursor: str | None) -> Changes:
        """Messages added since `cursor`; with trigger folders on, also messages that got a
        Replywatch trigger/Bumps label (`folder` set) and drafts that carry the Bumps label or
        are addressed to the user's me+bump@… (`is_draft`). Other drafts stay skipped."""
        start = _parse_cursor(cursor)
        current = int(self._profile("check for new mail")["historyId"])
        if start is None:
            return Changes([], str(current), cursor_reset=True)
        if current <= start:
            return Changes([], str(start))  # nothing at all happened: 1 unit
        users = self._svc().users()
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
                response = self._call("history.list", request, "check for new mail")
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
        with _SHARED:
            ours = set(_SENT_HERE.get(self.email.lower(), ()))
        wanted = {i: None for i in added if i not in ours or labelled.get(i)}
        if self.trigger_folders and any(labelled.values()):
            triggers = self._trigger_label_ids()
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
            triggers = self._trigger_label_ids()
            folder = next((triggers[i] for i in sorted(seen & labels) if i in triggers), "")
        summary = replace(self._summary(message), folder=folder, is_draft=draft)
        if draft and folder != BUMPS_FOLDER and not is_marked_draft(summary, self.own_addresses):
            return None
        return summary

    def thread(self, key: ThreadKey) -> list[MessageSummary]:
        found: dict[str, MessageSummary] = {}
        thread_ids = [key.thread_ref] if key.thread_ref else self._thread_ids(key.message_ids)
        searched = not key.thread_ref
        for thread_id in thread_ids:  # grows if a stored threadId is gone
            try:
                data = self._read_thread(thread_id)
            except NotFoundError:
                if not searched:
                    searched = True
                    thread_ids.extend(
                        t for t in self._thread_ids(key.message_ids) if t not in thread_ids
                    )
                continue
            for message in data.get("messages", []):
                if not SKIP_LABELS & set(message.get("labelIds", [])):
                    summary = self._summary(message)
                    found[summary.ref] = summary
        return sorted(found.values(), key=_order)

    def with_text(self, messages: Sequence[MessageSummary]) -> list[MessageSummary]:
        """messages.get format=full (5 units) per message: its parts with the text parts'
        content and only an id for attachments, so a big attachment is never transferred;
        read as IMAP's text (gmail/payload.py rebuilds the MIME message for body_text)."""
        out = []
        for m in messages:
            request = self._svc().users().messages().get(userId="me", id=m.ref, format="full")
            try:
                message = self._call("messages.get", request, "read a message")
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

    # -- writing ---------------------------------------------------------------------------

    def send(self, bump: Bump, before_commit: Callable[[], Any] | None = None) -> str:
        what = f"send {bump.message_id}"
        body = {"raw": base64.urlsafe_b64encode(bump.raw).decode()}
        if bump.thread_ref:
            body["threadId"] = bump.thread_ref
        creds = self._credentials()
        session = AuthorizedSession(creds)
        with self._slot:
            try:
                if not creds.valid:  # refresh now: a refused token must fail before the commit
                    creds.refresh(AuthRequest(session))
                if before_commit is not None:
                    before_commit()
                response = self._post_send(session, body, bump)
                refused = _thread_refused(response) if "threadId" in body else None
                if refused:
                    # Gmail will not put it in that thread: 404 when the thread is gone
                    # (deleted), 400 "Invalid thread_id value" when it no longer takes it.
                    # Nothing was sent. Recipients thread by In-Reply-To/References, so it goes
                    # out on its own, and the follow-up's history says so.
                    log.info("%s: thread %s refused (%s), unthreaded", self.email, body, refused)
                    thread = body.pop("threadId")
                    response = self._post_send(session, body, bump)
                    if response.status_code == 200:
                        self.send_notes[bump.message_id] = (
                            f"as a new conversation in your Gmail: Gmail no longer accepts "
                            f"thread {thread} ({refused}); the recipients still see it as a reply"
                        )
            except ReplywatchError:
                raise
            except Exception as exc:
                err = self._map_error(exc, what)
                if err is None:
                    raise
                raise err from None
            finally:
                self._remember_token()
                session.close()
        self.calls["messages.send"] += 1
        if response.status_code >= 500:
            # A backend error after Gmail had the request: it may have been sent. The engine
            # asks Sent (authoritative in Gmail) before anything is tried again.
            raise SendUnconfirmed(
                f"Gmail answered {response.status_code} while sending {bump.message_id}: "
                "it may or may not have gone out"
            )
        if response.status_code != 200:
            err = self._map_http(response.status_code, response.content, response.headers, what)
            if isinstance(err, MailboxProtocolError | NotFoundError):
                err = SendRejected(err.message)
            raise err
        sent_id = str(response.json()["id"])
        with _SHARED:
            here = _SENT_HERE.setdefault(self.email.lower(), OrderedDict())
            here[sent_id] = None
            while len(here) > SENT_MEMORY:
                here.popitem(last=False)
        return sent_id

    def _post_send(self, session: AuthorizedSession, body: dict, bump: Bump):
        request = self._svc().users().messages().send(userId="me", body=body)
        try:
            return session.request(
                request.method,
                request.uri,
                data=request.body,
                headers=request.headers,
                timeout=self.timeout,
            )
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise MailboxUnavailable(
                    f"cannot reach the Gmail API to send {bump.message_id}: {_describe(exc)}"
                ) from None
            raise SendUnconfirmed(
                f"the connection to the Gmail API broke while sending {bump.message_id} "
                f"({_describe(exc)}): it may or may not have gone out"
            ) from None
        except requests.exceptions.Timeout:
            raise SendUnconfirmed(
                f"the Gmail API did not answer within {self.timeout:g}s while sending "
                f"{bump.message_id}: it may or may not have gone out"
            ) from None

    def remind(self, key: ThreadKey) -> None:
        what = "bring a thread back to the inbox"
        label = self._remind_label()
        thread_ids = [key.thread_ref] if key.thread_ref else []
        thread_ids += [t for t in self._thread_ids(key.message_ids) if t not in thread_ids][:1]
        body = {"addLabelIds": ["INBOX", "UNREAD", label], "removeLabelIds": []}
        for thread_id in thread_ids:
            request = self._svc().users().threads().modify(userId="me", id=thread_id, body=body)
            try:
                self._call("threads.modify", request, what)
                return
            except NotFoundError:
                continue
        raise NotFoundError("no message of this thread is left in the mailbox")

    # -- triggers --------------------------------------------------------------------------

    def ensure_trigger_folders(self) -> None:
        users = self._svc().users()
        what = "create the Replywatch labels"
        labels = self._call("labels.list", users.labels().list(userId="me"), what)
        existing = {lab.get("name", "").lower() for lab in labels.get("labels", [])}
        for name in (*TRIGGER_FOLDERS, BUMPS_FOLDER):
            if name.lower() in existing:
                continue
            body = {
                "name": name,
                "labelListVisibility": "labelShow",
                "messageListVisibility": "show",
            }
            try:
                self._call("labels.create", users.labels().create(userId="me", body=body), what)
            except MailboxProtocolError:  # 409: another process created it meanwhile
                log.info("%s: label %r exists already", self.email, name)
        self._trigger_labels = None  # read again when next needed

    def message_text(self, ref: str) -> str:
        raw = self._raw(ref)
        return body_text(raw) if raw else ""

    def file_away(self, ref: str) -> None:
        self._modify(ref, [], ["INBOX", "UNREAD"], "file a message away")

    def release_trigger(self, ref: str) -> None:
        ids = [i for i, name in self._trigger_label_ids().items() if name in TRIGGER_FOLDERS]
        if ids:
            self._modify(ref, [], ids, "take a message out of a Replywatch label")

    def discard_draft(self, ref: str) -> None:
        """drafts.list (pages of 500) to find the draft holding message `ref`, drafts.delete."""
        users, what, page = self._svc().users(), "delete a draft", None
        while True:
            request = users.drafts().list(userId="me", maxResults=500, pageToken=page)
            response = self._call("drafts.list", request, what)
            for draft in response.get("drafts", []):
                if draft.get("message", {}).get("id") == ref:
                    with contextlib.suppress(NotFoundError):  # deleted meanwhile
                        request = users.drafts().delete(userId="me", id=draft["id"])
                        self._call("drafts.delete", request, what)
                    return
            page = response.get("nextPageToken")
            if not page:
                return

    def recent_sent(self, since: datetime, limit: int = 200) -> list[MessageSummary]:
        q = f"in:sent after:{int(since.timestamp())}"
        found = self._listed(q, limit, "list recent sent mail")
        found = [s for s in found if s.date is not None and s.date >= since]
        return sorted(found, key=_order, reverse=True)[:limit]

    def messages_from(self, address: str, limit: int = 20) -> list[MessageSummary]:
        address = address.strip().lower()
        if not _searchable_address(address):
            return []
        found = self._listed(f"from:{address} -in:sent", limit, "look up mail from someone")
        found = [s for s in found if s.from_addr == address and not s.in_sent]
        return sorted(found, key=_order, reverse=True)[:limit]

    def _listed(self, q: str, limit: int, what: str) -> list[MessageSummary]:
        """Summaries of the first `limit` hits of a search (newest first, as Gmail lists)."""
        users, hits, page = self._svc().users(), [], None
        while len(hits) < limit:
            size = min(limit - len(hits), 500)
            request = users.messages().list(userId="me", q=q, maxResults=size, pageToken=page)
            response = self._call("messages.list", request, what)
            hits.extend(response.get("messages", []))
            page = response.get("nextPageToken")
            if not page:
                break
        return [s for s in (self._get_summary(h["id"]) for h in hits[:limit]) if s is not None]

    def _modify(self, ref: str, add: list[str], remove: list[str], what: str) -> None:
        body = {"addLabelIds": add, "removeLabelIds": remove}
        request = self._svc().users().messages().modify(userId="me", id=ref, body=body)
        with contextlib.suppress(NotFoundError):  # gone meanwhile: nothing left to do
            self._call("messages.modify", request, what)

    def _trigger_label_ids(self) -> dict[str, str]:
        """label id -> logical name of the Replywatch trigger/Bumps labels that exist; one
        labels.list per mailbox object."""
        if self._trigger_labels is None:
            wanted = {name.lower(): name for name in (*TRIGGER_FOLDERS, BUMPS_FOLDER)}
            users = self._svc().users()
            labels = self._call(
                "labels.list", users.labels().list(userId="me"), "find the Replywatch labels"
            )
            self._trigger_labels = {
                lab["id"]: wanted[lab.get("name", "").lower()]
                for lab in labels.get("labels", [])
                if lab.get("name", "").lower() in wanted
            }
        return self._trigger_labels

    # -- push (users.watch) ----------------------------------------------------------------

    def watch(self, topic: str) -> datetime:
        """Ask Gmail to publish this mailbox's changes to the Pub/Sub `topic`; when it ends.

        Only INBOX and SENT changes are published (labelFilterBehavior "include"): a reply or a
        bounce lands in INBOX, the user's own message in SENT, and every push starts a pass, so
        label churn elsewhere (other labels, drafts, spam) would only cost passes. A reply a
        filter archives past the inbox is still found by the next regular poll. The watch is
        a hint channel only: changes() always reads from the stored cursor. 100 quota units.
        """
        body = {
            "topicName": topic,
            "labelIds": list(WATCH_LABELS),
            "labelFilterBehavior": "include",
        }
        request = self._svc().users().watch(userId="me", body=body)
        response = self._call("watch", request, "turn on Gmail push notifications")
        try:
            expires_ms = int(response["expiration"])
        except (KeyError, TypeError, ValueError):
            raise MailboxProtocolError(
                "Gmail's answer to users.watch has no usable expiration"
            ) from None
        return datetime.fromtimestamp(expires_ms / 1000, UTC)

    def stop_watch(self) -> None:
        """End this mailbox's push notifications (users.stop); harmless if none is on."""
        request = self._svc().users().stop(userId="me")
        self._call("stop", request, "turn off Gmail push notifications")

    # -- Gmail plumbing --------------------------------------------------------------------

    def _profile(self, what: str) -> dict:
        request = self._svc().users().getProfile(userId="me")
        return self._call("getProfile", request, what)

    def _read_thread(self, thread_id: str) -> dict:
        request = (
            self._svc()
            .users()
            .threads()
            .get(userId="me", id=thread_id, format="metadata", metadataHeaders=METADATA_HEADERS)
        )
        return self._call("threads.get", request, "read a thread")

    def _get_summary(self, gmail_id: str) -> MessageSummary | None:
        message = self._get_message(gmail_id)
        if message is None or SKIP_LABELS & set(message.get("labelIds", [])):
            return None
        return self._summary(message)

    def _get_message(self, gmail_id: str) -> dict | None:
        """One message in format=metadata; None if it was deleted since it was listed."""
        request = (
            self._svc()
            .users()
            .messages()
            .get(userId="me", id=gmail_id, format="metadata", metadataHeaders=METADATA_HEADERS)
        )
        try:
            return self._call("messages.get", request, "read a message")
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

    def _raw(self, gmail_id: str) -> bytes | None:
        request = self._svc().users().messages().get(userId="me", id=gmail_id, format="raw")
        try:
            message = self._call("messages.get", request, "read a message")
        except NotFoundError:
            return None
        data = message.get("raw", "")
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))

    def _search(self, q: str, what: str, *ids: str) -> list[dict]:
        if not all(_searchable(i) for i in ids):
            return []
        request = self._svc().users().messages().list(userId="me", q=q, maxResults=50)
        return self._call("messages.list", request, what).get("messages", [])

    def _thread_ids(self, message_ids: Iterable[str]) -> list[str]:
        """Gmail threads holding any of these Message-IDs (rfc822msgid: search, chunked)."""
        ids = sorted(i for i in set(message_ids) if _searchable(i))
        found: dict[str, None] = {}
        for n in range(0, len(ids), SEARCH_CHUNK):
            q = " OR ".join(f"rfc822msgid:{i}" for i in ids[n : n + SEARCH_CHUNK])
            for hit in self._search(q, "look for a thread"):
                found[hit["threadId"]] = None
        return list(found)

    def _remind_label(self) -> str:
        if self._label_id is not None:
            return self._label_id
        users = self._svc().users()
        what = "find the Replywatch label"
        for attempt in range(2):
            labels = self._call("labels.list", users.labels().list(userId="me"), what)
            for label in labels.get("labels", []):
                if label.get("name", "").lower() == REMIND_LABEL.lower():
                    self._label_id = label["id"]
                    return label["id"]
            if attempt:
                break
            body = {
                "name": REMIND_LABEL,
                "labelListVisibility": "labelShow",
                "messageListVisibility": "show",
            }
            try:
                created = self._call(
                    "labels.create", users.labels().create(userId="me", body=body), what
                )
            except MailboxProtocolError:  # 409: created meanwhile by another process
                continue
            self._label_id = created["id"]
            return created["id"]
        raise MailboxProtocolError(f"Gmail would not create the {REMIND_LABEL} label")

    def _credentials(self) -> Credentials:
        if self._creds is None:
            with _SHARED:
                token, expiry = _TOKENS.get(self._token_key, (None, None))
            self._creds = Credentials(
                token=token,
                expiry=expiry,  # naive UTC, as google-auth wants
                refresh_token=self._refresh_token,
                token_uri=self.token_uri,
                client_id=self.client_id,
                client_secret=self._client_secret,
            )
        return self._creds

    def _remember_token(self) -> None:
        creds = self._creds
        if creds is not None and creds.token:
            with _SHARED:
                _TOKENS[self._token_key] = (creds.token, creds.expiry)

    def _forget_token(self) -> None:
        with _SHARED:
            _TOKENS.pop(self._token_key, None)
        if self._creds is not None:
            self._creds.token = None

    def _svc(self):
        if self._service is None:
            http = google_auth_httplib2.AuthorizedHttp(
                self._credentials(), http=httplib2.Http(timeout=self.timeout)
            )
            self._service = build(
                "gmail",
                "v1",
                http=http,
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": self.endpoint},
            )
        return self._service

    def quota_units(self) -> int:
        """Quota units this mailbox spent, by Google's per-method costs (metrics)."""
        return sum(QUOTA_UNITS.get(method, 0) * n for method, n in self.calls.items())

    def _call(self, method: str, request, what: str) -> dict:
        """Execute one request (no library retries: retry.py is the one policy)."""
        self.calls[method] += 1
        with self._slot:
            try:
                return request.execute(num_retries=0)
            except Exception as exc:
                err = self._map_error(exc, what)
                if err is None:
                    raise
                raise err from None
            finally:
                self._remember_token()

    # -- errors ----------------------------------------------------------------------------

    def _map_error(self, exc: BaseException, what: str) -> ReplywatchError | None:
        """Our error for a library/socket error, or None if `exc` is not one (a bug)."""
        if isinstance(exc, RefreshError):
            self._forget_token()
            text = str(exc.args[0]) if exc.args else ""
            code = text.split(":", 1)[0].strip() or "refused"
            if code in ("invalid_client", "unauthorized_client"):
                return AuthFailed(
                    f"Google refused this Replywatch deployment's OAuth client ({code}): "
                    "check REPLYWATCH_GOOGLE_CLIENT_ID and REPLYWATCH_GOOGLE_CLIENT_SECRET"
                )
            if getattr(exc, "retryable", False):
                return MailboxUnavailable(f"Google's sign-in service failed while trying to {what}")
            reason = _clip(text.split(":", 1)[1]) if ":" in text else code
            return AuthFailed(
                f"Google refused access for {self.email} ({reason.strip()}): reconnect the account"
            )
        if isinstance(exc, HttpError):
            return self._map_http(exc.status_code, exc.content, exc.resp, what)
        network = (TransportError, OSError, httplib2.HttpLib2Error, http.client.HTTPException)
        if isinstance(exc, (*network, requests.RequestException)):
            return MailboxUnavailable(f"cannot reach the Gmail API to {what}: {_describe(exc)}")
        return None

    def _map_http(self, status: int, content: bytes, headers, what: str) -> ReplywatchError:
        error = _google_error(content)
        message = _clip(str(error.get("message") or http.client.responses.get(status, "")))
        reasons = {e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)}
        reasons |= {d.get("reason") for d in error.get("details", []) if isinstance(d, dict)}
        if status == 401:
            self._forget_token()
            return AuthFailed(f"Google refused access for {self.email}: reconnect the account")
        if status in (408, 429) or status >= 500 or (status == 403 and reasons & RATE_REASONS):
            err = MailboxUnavailable(
                f"Gmail asked Replywatch to slow down or is unavailable ({status} {message}) "
                f"while trying to {what}"
            )
            err.retry_after = _retry_after(headers, message)
            return err
        if status == 403 and reasons & SCOPE_REASONS:
            return AuthFailed(
                f"Google refused access for {self.email}: Replywatch lacks permission to "
                "read or send mail; reconnect the account"
            )
        if status == 404:
            return NotFoundError(f"Gmail has no such item (while trying to {what})")
        return MailboxProtocolError(f"Gmail refused to {what}: {status} {message}")

    # -- send later (watcher.later) --------------------------------------------------------

    def read_draft(self, ref: str) -> bytes | None:
        """The whole raw draft message (messages.get format=raw); None if it is gone."""
        return self._raw(ref)

    def draft_key(self, ref: str) -> str | None:
        """The id of the draft holding message `ref` (drafts.list, pages of 500): it stays the
        same when the user edits the draft, while the message (and its id) is replaced."""
        users, page = self._svc().users(), None
        while True:
            request = users.drafts().list(userId="me", maxResults=500, pageToken=page)
            response = self._call("drafts.list", request, "look up a draft")
            for draft in response.get("drafts", []):
                if draft.get("message", {}).get("id") == ref:
                    return f"gmail-draft:{draft['id']}"
            page = response.get("nextPageToken")
            if not page:
                return None


# -- small helpers -------------------------------------------------------------------------


def _thread_refused(response) -> str | None:
    """Gmail's answer when it will not send into the given thread, else None."""
    if response.status_code == 404:
        return "404 the thread is gone"
    if response.status_code != 400:
        return None
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return None
    return f"400 {message[:80]}" if "thread" in message.lower() else None


def _refresh_token(secret: str) -> str:
    """The refresh token from the stored secret: JSON {"refresh_token": ...} or the bare token."""
    try:
        data = json.loads(secret)
    except (TypeError, ValueError):
        data = None
    if isinstance(data, dict):
        return str(data.get("refresh_token") or "")
    return secret or ""


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


def _google_error(content: bytes | str) -> dict:
    try:
        data = json.loads(content)
    except (TypeError, ValueError):
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _retry_after(headers, message: str) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or Gmail's 'Retry after <time>'."""
    value = None
    if headers is not None:
        value = headers.get("retry-after") or headers.get("Retry-After")
    when = None
    if value:
        value = str(value).strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
    if when is None:
        match = _RETRY_AFTER_TEXT.search(message or "")
        if match:
            try:
                when = datetime.fromisoformat(match.group(1).rstrip("."))
            except ValueError:
                when = None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True if the request surely never left (refused, unknown host, connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    text = repr(exc.args[0]) if exc.args else ""
    return any(
        marker in text
        for marker in ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError")
    )


def _describe(exc: BaseException) -> str:
    text = str(exc)
    for marker, short in (
        ("Connection refused", "connection refused"),
        ("RemoteDisconnected", "the server closed the connection"),
        ("Connection aborted", "the connection was cut"),
        ("timed out", "no answer in time"),
        ("Name or service not known", "host name not found"),
    ):
        if marker in text:
            return short
    return _clip(type(exc).__name__)


def _order(s: MessageSummary) -> tuple:
    stamp = s.date.timestamp() if s.date else float("-inf")
    return (stamp, len(s.references) + len(s.in_reply_to), s.ref)


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
