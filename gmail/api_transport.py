"""The way to the Gmail API for one account: OAuth credentials (access tokens cached in process
memory, keyed by a hash of the refresh token), the discovery-built client on the configured
endpoint, the per-account concurrency slot, call counting in quota units, and the mapping of
every library error to ours (one line, never a token).
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import logging
import re
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import google_auth_httplib2
import httplib2
import requests
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from watcher.errors import (
    AuthFailed,
    MailboxProtocolError,
    MailboxUnavailable,
    NotFoundError,
    ReplywatchError,
)
from watcher.mailbox import AccountSpec

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
RATE_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"}
)
SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
_RETRY_AFTER_TEXT = re.compile(r"Retry after (\S+)", re.I)

_TOKENS: dict[str, tuple[str, datetime | None]] = {}  # hash -> (access token, naive UTC expiry)
_SLOTS: dict[str, threading.BoundedSemaphore] = {}
SHARED = threading.Lock()  # guards the process-wide state of every Gmail module


class GmailTransport:
    """One account's requests to the Gmail API; `calls` counts them per method."""

    def __init__(self, spec: AccountSpec, config: Any):
        self.email = spec.email.strip().lower()
        self.endpoint = config.google_gmail_endpoint
        self.token_uri = config.google_token_uri
        self.client_id = config.google_client_id
        self._client_secret = config.google_client_secret
        self._refresh_token = refresh_token_of(spec.secret)
        self.timeout = float(config.gmail_timeout)
        self.calls: Counter = Counter()  # Gmail API method -> requests made, for tests/benches
        self._token_key = hashlib.sha256(
            f"{self.token_uri}\0{self.client_id}\0{self._refresh_token}".encode()
        ).hexdigest()
        with SHARED:
            self.slot = _SLOTS.setdefault(
                self.email, threading.BoundedSemaphore(max(1, int(config.gmail_max_concurrent)))
            )
        self.creds: Credentials | None = None
        self._service = None

    def close(self) -> None:
        service, self._service = self._service, None
        if service is not None:
            try:
                service.close()
            except Exception:  # closing must never fail
                log.debug("closing the Gmail client failed", exc_info=True)

    def profile(self, what: str) -> dict:
        request = self.svc().users().getProfile(userId="me")
        return self.call("getProfile", request, what)

    def credentials(self) -> Credentials:
        if self.creds is None:
            with SHARED:
                token, expiry = _TOKENS.get(self._token_key, (None, None))
            self.creds = Credentials(
                token=token,
                expiry=expiry,  # naive UTC, as google-auth wants
                refresh_token=self._refresh_token,
                token_uri=self.token_uri,
                client_id=self.client_id,
                client_secret=self._client_secret,
            )
        return self.creds

    def remember_token(self) -> None:
        creds = self.creds
        if creds is not None and creds.token:
            with SHARED:
                _TOKENS[self._token_key] = (creds.token, creds.expiry)

    def forget_token(self) -> None:
        with SHARED:
            _TOKENS.pop(self._token_key, None)
        if self.creds is not None:
            self.creds.token = None

    def svc(self):
        if self._service is None:
            http = google_auth_httplib2.AuthorizedHttp(
                self.credentials(), http=httplib2.Http(timeout=self.timeout)
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

    def call(self, method: str, request, what: str) -> dict:
        """Execute one request (no library retries: retry.py is the one policy)."""
        self.calls[method] += 1
        with self.slot:
            try:
                return request.execute(num_retries=0)
            except Exception as exc:
                err = self.map_error(exc, what)
                if err is None:
                    raise
                raise err from None
            finally:
                self.remember_token()

    def map_error(self, exc: BaseException, what: str) -> ReplywatchError | None:
        """Our error for a library/socket error, or None if `exc` is not one (a bug)."""
        if isinstance(exc, RefreshError):
            self.forget_token()
            text = str(exc.args[0]) if exc.args else ""
            code = text.split(":", 1)[0].strip() or "refused"
            if code in ("invalid_client", "unauthorized_client"):
                return AuthFailed(
                    f"Google refused this Replywatch deployment's OAuth client ({code}): "
                    "check REPLYWATCH_GOOGLE_CLIENT_ID and REPLYWATCH_GOOGLE_CLIENT_SECRET"
                )
            if getattr(exc, "retryable", False):
                return MailboxUnavailable(f"Google's sign-in service failed while trying to {what}")
            reason = clip(text.split(":", 1)[1]) if ":" in text else code
            return AuthFailed(
                f"Google refused access for {self.email} ({reason.strip()}): reconnect the account"
            )
        if isinstance(exc, HttpError):
            return self.map_http(exc.status_code, exc.content, exc.resp, what)
        network = (TransportError, OSError, httplib2.HttpLib2Error, http.client.HTTPException)
        if isinstance(exc, (*network, requests.RequestException)):
            return MailboxUnavailable(f"cannot reach the Gmail API to {what}: {describe(exc)}")
        return None

    def map_http(self, status: int, content: bytes, headers, what: str) -> ReplywatchError:
        error = google_error(content)
        message = clip(str(error.get("message") or http.client.responses.get(status, "")))
        reasons = {e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)}
        reasons |= {d.get("reason") for d in error.get("details", []) if isinstance(d, dict)}
        if status == 401:
            self.forget_token()
            return AuthFailed(f"Google refused access for {self.email}: reconnect the account")
        if status in (408, 429) or status >= 500 or (status == 403 and reasons & RATE_REASONS):
            err = MailboxUnavailable(
                f"Gmail asked Replywatch to slow down or is unavailable ({status} {message}) "
                f"while trying to {what}"
            )
            err.retry_after = retry_after(headers, message)
            return err
        if status == 403 and reasons & SCOPE_REASONS:
            return AuthFailed(
                f"Google refused access for {self.email}: Replywatch lacks permission to "
                "read or send mail; reconnect the account"
            )
        if status == 404:
            return NotFoundError(f"Gmail has no such item (while trying to {what})")
        return MailboxProtocolError(f"Gmail refused to {what}: {status} {message}")


def refresh_token_of(secret: str) -> str:
    """The refresh token from the stored secret: JSON {"refresh_token": ...} or the bare token."""
    try:
        data = json.loads(secret)
    except (TypeError, ValueError):
        data = None
    if isinstance(data, dict):
        return str(data.get("refresh_token") or "")
    return secret or ""


def google_error(content: bytes | str) -> dict:
    try:
        data = json.loads(content)
    except (TypeError, ValueError):
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def retry_after(headers, message: str) -> float | None:
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


def describe(exc: BaseException) -> str:
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
    return clip(type(exc).__name__)


def clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
