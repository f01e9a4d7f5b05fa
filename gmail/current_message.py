"""Read the message open in Gmail with the add-on's own tokens (the one mail read a request does).

One `users.messages.get(format=metadata)` with `Authorization: Bearer <userOAuthToken>` and
`X-Goog-Gmail-Access-Token: <gmail.accessToken>` (reference/addon-http-runtime.md section 5),
for `gmail.messageId` exactly as the event gave it (msg-f:…, msg-a:r…: see events.py); Gmail's
answer names the message by its REST `id` and `threadId`, and those are what is stored. The
headers become a MessageSummary exactly as GmailMailbox builds them, so the follow-up is
anchored on the same Message-ID and threadId the watcher will look for.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote

import requests

from watcher.errors import AuthFailed, MailboxProtocolError, MailboxUnavailable, NotFoundError
from watcher.headers import summarize
from watcher.mailbox import MessageSummary

from .api import METADATA_HEADERS

TIMEOUT = 5.0  # the add-on waits on us; Gmail answers metadata in well under a second
_local = threading.local()  # one keep-alive session per server thread: no TLS handshake per event


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def read_open_message(
    endpoint: str, message_id: str, user_token: str, message_token: str
) -> MessageSummary:
    url = f"{endpoint.rstrip('/')}/gmail/v1/users/me/messages/{quote(message_id, safe='')}"
    headers = {
        "Authorization": f"Bearer {user_token}",
        "X-Goog-Gmail-Access-Token": message_token,
        "Accept": "application/json",
    }
    params = [("format", "metadata"), *(("metadataHeaders", h) for h in METADATA_HEADERS)]
    try:
        response = _session().get(url, headers=headers, params=params, timeout=TIMEOUT)
    except requests.RequestException:
        raise MailboxUnavailable("Gmail did not answer: try again in a moment") from None
    if response.status_code in (401, 403):
        raise AuthFailed("Gmail did not let the add-on read this message: reopen it and retry")
    if response.status_code == 404:
        raise NotFoundError("Gmail no longer has this message: it was deleted or moved away")
    if response.status_code == 400:
        # Gmail's word on an id it cannot read ("Invalid id value"): the id is passed as Google
        # gave it, so this names a form Gmail itself does not accept here. Say so, plainly.
        raise NotFoundError(
            f"Gmail could not open this message ({_gmail_message(response)}): reopen it in "
            "Gmail and try again"
        )
    if response.status_code != 200:
        raise MailboxUnavailable(f"Gmail answered {response.status_code}: try again in a moment")
    try:
        message = response.json()
        pairs = [(h["name"], h["value"]) for h in message["payload"]["headers"]]
        labels = set(message.get("labelIds") or [])
        summary = summarize(
            str(message["id"]), pairs, thread_ref=message.get("threadId"), in_sent="SENT" in labels
        )
        if summary.date is None and message.get("internalDate"):
            stamp = int(message["internalDate"]) / 1000
            summary = replace(summary, date=_utc(stamp))
    except (ValueError, KeyError, TypeError) as exc:
        what = type(exc).__name__
        raise MailboxProtocolError(f"Gmail's answer could not be read ({what})") from None
    return summary


def _gmail_message(response: requests.Response) -> str:
    """error.message of Google's JSON error body, clipped; the status code if there is none."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = None
    if not isinstance(message, str) or not message.strip():
        return f"it answered {response.status_code}"
    return " ".join(message.split())[:120]


def _utc(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)
