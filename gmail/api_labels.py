"""Gmail labels and what is done with them: the Replywatch label of remind(), the trigger and
Bumps labels (created, looked up, released), filing a trigger's inbox copy away, deleting a
draft, and push notifications (users.watch / users.stop)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from gmail.api_transport import GmailTransport
from watcher.errors import MailboxProtocolError, NotFoundError
from watcher.mailbox import BUMPS_FOLDER, TRIGGER_FOLDERS, ThreadKey

log = logging.getLogger(__name__)

REMIND_LABEL = "Replywatch"
WATCH_LABELS = ("INBOX", "SENT")  # what users.watch publishes (see watch())


class GmailLabels:
    """Label ids are read once per mailbox object (labels.list) and kept."""

    def __init__(self, api: GmailTransport):
        self.api = api
        self.email = api.email
        self._label_id: str | None = None
        self._trigger_labels: dict[str, str] | None = None  # label id -> logical folder name

    def remind(self, key: ThreadKey, find_threads: Callable[[Iterable[str]], list[str]]) -> None:
        """`find_threads`: the Gmail threads holding some of these Message-IDs (the reader's)."""
        what = "bring a thread back to the inbox"
        label = self.remind_label()
        thread_ids = [key.thread_ref] if key.thread_ref else []
        thread_ids += [t for t in find_threads(key.message_ids) if t not in thread_ids][:1]
        body = {"addLabelIds": ["INBOX", "UNREAD", label], "removeLabelIds": []}
        for thread_id in thread_ids:
            request = self.api.svc().users().threads().modify(userId="me", id=thread_id, body=body)
            try:
                self.api.call("threads.modify", request, what)
                return
            except NotFoundError:
                continue
        raise NotFoundError("no message of this thread is left in the mailbox")

    def ensure_trigger_folders(self) -> None:
        users = self.api.svc().users()
        what = "create the Replywatch labels"
        labels = self.api.call("labels.list", users.labels().list(userId="me"), what)
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
                self.api.call("labels.create", users.labels().create(userId="me", body=body), what)
            except MailboxProtocolError:  # 409: another process created it meanwhile
                log.info("%s: label %r exists already", self.email, name)
        self._trigger_labels = None  # read again when next needed

    def file_away(self, ref: str) -> None:
        self._modify(ref, [], ["INBOX", "UNREAD"], "file a message away")

    def release_trigger(self, ref: str) -> None:
        ids = [i for i, name in self.trigger_label_ids().items() if name in TRIGGER_FOLDERS]
        if ids:
            self._modify(ref, [], ids, "take a message out of a Replywatch label")

    def discard_draft(self, ref: str) -> None:
        """drafts.list (pages of 500) to find the draft holding message `ref`, drafts.delete."""
        what = "delete a draft"
        draft_id = self.draft_id_of(ref, what)
        if draft_id is None:
            return
        with contextlib.suppress(NotFoundError):  # deleted meanwhile
            request = self.api.svc().users().drafts().delete(userId="me", id=draft_id)
            self.api.call("drafts.delete", request, what)

    def draft_id_of(self, ref: str, what: str = "look up a draft") -> str | None:
        """The id of the draft holding message `ref` (drafts.list, pages of 500): it stays the
        same when the user edits the draft, while the message (and its id) is replaced."""
        users, page = self.api.svc().users(), None
        while True:
            request = users.drafts().list(userId="me", maxResults=500, pageToken=page)
            response = self.api.call("drafts.list", request, what)
            for draft in response.get("drafts", []):
                if draft.get("message", {}).get("id") == ref:
                    return draft["id"]
            page = response.get("nextPageToken")
            if not page:
                return None
            page = response.get("nextPageToken")
            if not page:
                return

    def _modify(self, ref: str, add: list[str], remove: list[str], what: str) -> None:
        body = {"addLabelIds": add, "removeLabelIds": remove}
        request = self.api.svc().users().messages().modify(userId="me", id=ref, body=body)
        with contextlib.suppress(NotFoundError):  # gone meanwhile: nothing left to do
            self.api.call("messages.modify", request, what)

    # -- label ids -------------------------------------------------------------------------

    def remind_label(self) -> str:
        if self._label_id is not None:
            return self._label_id
        users = self.api.svc().users()
        what = "find the Replywatch label"
        for attempt in range(2):
            labels = self.api.call("labels.list", users.labels().list(userId="me"), what)
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
                created = self.api.call(
                    "labels.create", users.labels().create(userId="me", body=body), what
                )
            except MailboxProtocolError:  # 409: created meanwhile by another process
                continue
            self._label_id = created["id"]
            return created["id"]
        raise MailboxProtocolError(f"Gmail would not create the {REMIND_LABEL} label")

    def trigger_label_ids(self) -> dict[str, str]:
        """label id -> logical name of the Replywatch trigger/Bumps labels that exist; one
        labels.list per mailbox object."""
        if self._trigger_labels is None:
            wanted = {name.lower(): name for name in (*TRIGGER_FOLDERS, BUMPS_FOLDER)}
            users = self.api.svc().users()
            labels = self.api.call(
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
        request = self.api.svc().users().watch(userId="me", body=body)
        response = self.api.call("watch", request, "turn on Gmail push notifications")
        try:
            expires_ms = int(response["expiration"])
        except (KeyError, TypeError, ValueError):
            raise MailboxProtocolError(
                "Gmail's answer to users.watch has no usable expiration"
            ) from None
        return datetime.fromtimestamp(expires_ms / 1000, UTC)

    def stop_watch(self) -> None:
        """End this mailbox's push notifications (users.stop); harmless if none is on."""
        request = self.api.svc().users().stop(userId="me")
        self.api.call("stop", request, "turn off Gmail push notifications")
