"""An SMTP submission server for tests on aiosmtpd 1.4.6 that delivers into Dovecot.

It requires AUTH (PLAIN/LOGIN, checked against the same user dict Dovecot uses), records every
accepted envelope, and appends each accepted message to the INBOX of every recipient that is a
Dovecot user, before it answers 250, so a test can read the mail (and reply) as the recipient as
soon as the sender's `DATA` returned. Other recipients are accepted and only recorded, like a relay.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from imapclient import IMAPClient

from tests.servers.dovecot import Dovecot, free_port

_MSGID = re.compile(rb"<[^<>\s]+>")


@dataclass
class Received:
    """One envelope the sink accepted."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    message_id: str  # "<...>" or ""
    login: str | None = None  # the AUTH user that submitted it
    delivered_to: list[str] = field(default_factory=list)  # Dovecot users it was appended for


class SmtpSink:
    """aiosmtpd on 127.0.0.1:<free port> requiring AUTH; see the module docstring.

    Hooks a test can set:
      on_data: callable(envelope) run inside DATA after the message is recorded and delivered,
               just before the 250 reply (e.g. to SIGKILL the sending process at that moment).
      reject_next(code, text, on="rcpt"|"data"): the next RCPT or DATA gets that SMTP error.
    """

    host = "127.0.0.1"

    def __init__(self, dovecot: Dovecot | None = None, users: dict[str, str] | None = None):
        self.dovecot = dovecot
        # Shared with Dovecot on purpose: a user added there can submit mail here at once.
        if users is not None:
            self.users = users
        elif dovecot is not None:
            self.users = dovecot.users
        else:
            self.users = {}
        self.messages: list[Received] = []
        self.on_data: Callable[[object], None] | None = None
        self._rejects: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        # One logged-in IMAP session per Dovecot user, kept: a login per delivered message
        # made the sink (one event loop) the bottleneck of tests that send a lot.
        self._sessions: dict[str, IMAPClient] = {}
        self.port = free_port()
        self.controller = _Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=False,
        )

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        for c in self._sessions.values():
            with contextlib.suppress(Exception):
                c.logout()
        self._sessions.clear()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test API --------------------------------------------------------------------------

    def reject_next(self, code: int = 550, text: str = "rejected for the test", on: str = "rcpt"):
        """Make the next RCPT (on="rcpt") or DATA (on="data") fail with `code text`."""
        if on not in ("rcpt", "data"):
            raise ValueError("on must be 'rcpt' or 'data'")
        with self._lock:
            self._rejects[on] = (code, text)

    def count(self, message_id: str) -> int:
        """How many accepted envelopes carried this Message-ID."""
        with self._lock:
            return sum(1 for m in self.messages if m.message_id == message_id)

    def find(self, message_id: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.message_id == message_id]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self._rejects.clear()
        self.on_data = None

    # -- internals -------------------------------------------------------------------------

    def _take_reject(self, on: str) -> tuple[int, str] | None:
        with self._lock:
            return self._rejects.pop(on, None)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode(errors="replace")
        password = auth_data.password.decode(errors="replace")
        if self.users.get(login) != password:
            return AuthResult(success=False, handled=False)  # handled=False: aiosmtpd sends 535
        return AuthResult(success=True, auth_data=login)

    def _deliver(self, rcpt: str, content: bytes, mail_from: str) -> bool:
        """APPEND to the recipient's Dovecot INBOX if it is a Dovecot user; a plus-address
        (alice+2w@…) reaches alice@…, and Delivered-To names the address used, as an LDA does."""
        if self.dovecot is None:
            return False
        local, _, domain = rcpt.lower().partition("@")
        base = f"{local.split('+', 1)[0]}@{domain}"
        login = next((u for u in list(self.users) if u.lower() == base), None)
        if login is None:
            return False
        raw = f"Return-Path: <{mail_from}>\r\nDelivered-To: {rcpt}\r\n".encode() + content
        for fresh in (False, True):
            c = None if fresh else self._sessions.get(login)
            try:
                if c is None:
                    c = IMAPClient(self.dovecot.host, self.dovecot.port, ssl=False, timeout=10)
                    c.login(login, self.users[login])
                    self._sessions[login] = c
                c.append("INBOX", raw)
                return True
            except Exception:
                self._sessions.pop(login, None)  # a dropped session: once more, logged in anew
                if fresh:
                    raise
        return True


class _Controller(Controller):
    def factory(self):
        # AUTH without TLS is the point of a local test server: silence aiosmtpd's warning.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return super().factory()


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reject = self.sink._take_reject("rcpt")
        if reject:
            return f"{reject[0]} {reject[1]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reject = self.sink._take_reject("data")
        if reject:
            return f"{reject[0]} {reject[1]}"
        content = envelope.content
        if isinstance(content, str):
            content = content.encode()
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(content)
        found = _MSGID.search((headers.get("Message-ID") or "").encode(errors="replace"))
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            content=content,
            message_id=found.group(0).decode() if found else "",
            login=getattr(session, "auth_data", None),
        )
        # Blocking IMAP on the sink's loop is fine for tests and keeps delivery synchronous.
        for rcpt in envelope.rcpt_tos:
            if self.sink._deliver(rcpt, content, envelope.mail_from):
                received.delivered_to.append(rcpt)
        with self.sink._lock:
            self.sink.messages.append(received)
        hook = self.sink.on_data
        if hook is not None:
            hook(envelope)
        return "250 Message accepted for delivery"
