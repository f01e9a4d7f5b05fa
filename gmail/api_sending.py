"""Sending a bump through the Gmail API exactly once.

Sending goes through google-auth's requests transport rather than httplib2: httplib2 silently
sends a request a second time when the connection drops before the answer (see
httplib2.Http._conn_request), which for messages.send would be a second bump. A connection
error after the request may have been written raises SendUnconfirmed instead.
"""

from __future__ import annotations

import base64
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import requests
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as AuthRequest

from gmail.api_transport import SHARED, GmailTransport, describe
from watcher.errors import (
    MailboxProtocolError,
    MailboxUnavailable,
    NotFoundError,
    ReplywatchError,
    SendRejected,
    SendUnconfirmed,
)
from watcher.mailbox import Bump

log = logging.getLogger(__name__)

# account -> Gmail ids of the bumps this process sent (newest last): when one comes back
# through history it is not fetched again (5 quota units each); the engine recorded it already.
_SENT_HERE: dict[str, OrderedDict[str, None]] = {}
SENT_MEMORY = 1000


def remember_sent(email: str, sent_id: str) -> None:
    with SHARED:
        here = _SENT_HERE.setdefault(email.lower(), OrderedDict())
        here[sent_id] = None
        while len(here) > SENT_MEMORY:
            here.popitem(last=False)


def sent_here(email: str) -> set[str]:
    """Gmail ids of the bumps this process sent from `email` (the newest SENT_MEMORY)."""
    with SHARED:
        return set(_SENT_HERE.get(email.lower(), ()))


class GmailSender:
    """The sending half of GmailMailbox."""

    def __init__(self, api: GmailTransport):
        self.api = api
        self.email = api.email
        # Message-ID -> how a send went other than asked (the engine puts it in the Event).
        self.send_notes: dict[str, str] = {}

    def send(self, bump: Bump, before_commit: Callable[[], Any] | None = None) -> str:
        what = f"send {bump.message_id}"
        body = {"raw": base64.urlsafe_b64encode(bump.raw).decode()}
        if bump.thread_ref:
            body["threadId"] = bump.thread_ref
        creds = self.api.credentials()
        session = AuthorizedSession(creds)
        with self.api.slot:
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
                err = self.api.map_error(exc, what)
                if err is None:
                    raise
                raise err from None
            finally:
                self.api.remember_token()
                session.close()
        self.api.calls["messages.send"] += 1
        if response.status_code >= 500:
            # A backend error after Gmail had the request: it may have been sent. The engine
            # asks Sent (authoritative in Gmail) before anything is tried again.
            raise SendUnconfirmed(
                f"Gmail answered {response.status_code} while sending {bump.message_id}: "
                "it may or may not have gone out"
            )
        if response.status_code != 200:
            err = self.api.map_http(response.status_code, response.content, response.headers, what)
            if isinstance(err, MailboxProtocolError | NotFoundError):
                err = SendRejected(err.message)
            raise err
        sent_id = str(response.json()["id"])
        remember_sent(self.email, sent_id)
        return sent_id

    def _post_send(self, session: AuthorizedSession, body: dict, bump: Bump):
        request = self.api.svc().users().messages().send(userId="me", body=body)
        try:
            return session.request(
                request.method,
                request.uri,
                data=request.body,
                headers=request.headers,
                timeout=self.api.timeout,
            )
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise MailboxUnavailable(
                    f"cannot reach the Gmail API to send {bump.message_id}: {describe(exc)}"
                ) from None
            raise SendUnconfirmed(
                f"the connection to the Gmail API broke while sending {bump.message_id} "
                f"({describe(exc)}): it may or may not have gone out"
            ) from None
        except requests.exceptions.Timeout:
            raise SendUnconfirmed(
                f"the Gmail API did not answer within {self.api.timeout:g}s while sending "
                f"{bump.message_id}: it may or may not have gone out"
            ) from None


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


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True if the request surely never left (refused, unknown host, connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    text = repr(exc.args[0]) if exc.args else ""
    return any(
        marker in text
        for marker in ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError")
    )
