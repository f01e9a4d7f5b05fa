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

Every exception that leaves these modules is a ReplywatchError with a one-line message that
never contains a token: see `GmailTransport.map_error`.

GmailMailbox is the thin class of the Mailbox Protocol; each job has its module:
    api_transport.py  GmailTransport: credentials and token cache, client, slots, errors, quota
    api_reading.py    GmailReader: changes by historyId, threads, bodies, lookups
    api_labels.py     GmailLabels: remind's label, trigger labels, filing away, drafts, push
    api_sending.py    GmailSender: messages.send exactly once, the bumps sent from here
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from google.oauth2.credentials import Credentials

from gmail.api_labels import REMIND_LABEL, WATCH_LABELS, GmailLabels
from gmail.api_reading import (
    HISTORY_PAGE,
    METADATA_HEADERS,
    NEVER_LABELS,
    SEARCH_CHUNK,
    SKIP_LABELS,
    GmailReader,
)
from gmail.api_sending import SENT_MEMORY, GmailSender
from gmail.api_transport import QUOTA_UNITS, SCOPES, GmailTransport
from watcher.errors import AuthFailed
from watcher.mailbox import AccountSpec, Bump, Changes, MessageSummary, ThreadKey

__all__ = [
    "HISTORY_PAGE",
    "METADATA_HEADERS",
    "NEVER_LABELS",
    "QUOTA_UNITS",
    "REMIND_LABEL",
    "SCOPES",
    "SEARCH_CHUNK",
    "SENT_MEMORY",
    "SKIP_LABELS",
    "WATCH_LABELS",
    "GmailMailbox",
]


class GmailMailbox:
    # Gmail files every sent message in Sent as part of sending: no copy there, nothing sent.
    sent_copy_is_authoritative = True

    """One Google account over the Gmail API. Builds its client lazily; close() releases it."""

    def __init__(self, spec: AccountSpec, config: Any):
        self.api = GmailTransport(spec, config)
        self.email = self.api.email
        self.own_addresses = frozenset(a.lower() for a in (spec.email, *spec.aliases))
        self.trigger_folders = bool(spec.trigger_folders)
        self.labels = GmailLabels(self.api)
        self.reader = GmailReader(self.api, self.labels, self.own_addresses, self.trigger_folders)
        self.sender = GmailSender(self.api)

    def __repr__(self) -> str:
        return f"GmailMailbox({self.email!r})"

    @property
    def calls(self) -> Counter:
        """Gmail API method -> requests made, for tests and benchmarks."""
        return self.api.calls

    @property
    def send_notes(self) -> dict[str, str]:
        """Message-ID -> how a send went other than asked (the engine puts it in the Event)."""
        return self.sender.send_notes

    @property
    def _creds(self) -> Credentials | None:
        return self.api.creds

    def quota_units(self) -> int:
        """Quota units this mailbox spent, by Google's per-method costs (metrics)."""
        return self.api.quota_units()

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> GmailMailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.api.close()

    def check(self) -> None:
        """Fetch the profile: proves the token works and belongs to this address."""
        profile = self.api.profile("check the account")
        address = str(profile.get("emailAddress", "")).lower()
        if address != self.email:
            raise AuthFailed(
                f"the Google authorization is for {address}, not {self.email}: "
                "connect the right account"
            )

    # -- reading (api_reading.py) ----------------------------------------------------------

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

    def message_text(self, ref: str) -> str:
        return self.reader.message_text(ref)

    def recent_sent(self, since: datetime, limit: int = 200) -> list[MessageSummary]:
        return self.reader.recent_sent(since, limit)

    def messages_from(self, address: str, limit: int = 20) -> list[MessageSummary]:
        return self.reader.messages_from(address, limit)

    # -- sending (api_sending.py) ----------------------------------------------------------

    def send(self, bump: Bump, before_commit: Callable[[], Any] | None = None) -> str:
        return self.sender.send(bump, before_commit)

    # -- labels (api_labels.py) ------------------------------------------------------------

    def remind(self, key: ThreadKey) -> None:
        self.labels.remind(key, self.reader.thread_ids)

    def ensure_trigger_folders(self) -> None:
        self.labels.ensure_trigger_folders()

    def file_away(self, ref: str) -> None:
        self.labels.file_away(ref)

    def release_trigger(self, ref: str) -> None:
        self.labels.release_trigger(ref)

    def discard_draft(self, ref: str) -> None:
        self.labels.discard_draft(ref)

    # -- send later (watcher/later) --------------------------------------------------------

    def read_draft(self, ref: str) -> bytes | None:
        """The whole raw draft message (messages.get format=raw); None if it is gone."""
        return self.reader.raw(ref)

    def draft_key(self, ref: str) -> str | None:
        """The draft's id: it stays when the user edits the draft (the message is replaced)."""
        draft_id = self.labels.draft_id_of(ref)
        return f"gmail-draft:{draft_id}" if draft_id else None

    def watch(self, topic: str) -> datetime:
        return self.labels.watch(topic)

    def stop_watch(self) -> None:
        self.labels.stop_watch()
