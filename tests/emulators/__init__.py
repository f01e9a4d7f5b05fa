"""Local emulators of Google's Gmail API, OAuth 2.0 and certificate endpoints (tests only).

`GoogleEmulators` starts both HTTP servers on 127.0.0.1; `config_overrides()` and `env()` give
the Config fields / REPLYWATCH_GOOGLE_* variables that point Replywatch at them, so the real
google-api-python-client, google-auth and google-auth-oauthlib talk to them over HTTP.
"""

from __future__ import annotations

import email.policy
import email.utils
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage

from tests.emulators.gmail import GmailEmulator, Msg
from tests.emulators.oauth import OAuthEmulator
from watcher.mailbox import AccountSpec

_counter = itertools.count(1)


@dataclass(frozen=True)
class GoogleUser:
    email: str
    name: str

    def __str__(self) -> str:
        return self.email


class GoogleEmulators:
    domain = "gmail.test"

    def __init__(self):
        self.oauth = OAuthEmulator()
        self.gmail = GmailEmulator(self.oauth)

    def start(self) -> GoogleEmulators:
        self.oauth.start()
        self.gmail.start()
        return self

    def stop(self) -> None:
        self.gmail.stop()
        self.oauth.stop()

    def config_overrides(self) -> dict:
        return {"google_gmail_endpoint": self.gmail.url + "/", **self.oauth.endpoints()}

    def env(self) -> dict[str, str]:
        return {f"REPLYWATCH_{k.upper()}": v for k, v in self.config_overrides().items()}

    def reset(self) -> None:
        self.gmail.clear_faults()
        self.gmail.clear_outbound()  # each test sees only the mail it made leave
        self.oauth.deny_next = False
        self.oauth.id_token_overrides = {}

    # -- people and mail ------------------------------------------------------------------

    def new_user(self, name: str = "user") -> GoogleUser:
        user = GoogleUser(f"{name.lower()}-{next(_counter)}@{self.domain}", name.capitalize())
        self.gmail.add_user(user.email, user.name)
        return user

    def refresh_token(self, user: GoogleUser | str, **kw) -> str:
        return self.oauth.issue_refresh_token(str(user), **kw)

    def account_spec(self, user: GoogleUser, token: str | None = None) -> AccountSpec:
        secret = json.dumps({"refresh_token": token or self.refresh_token(user)})
        return AccountSpec(kind="gmail", email=user.email, settings={}, secret=secret)

    def send(
        self,
        from_user: GoogleUser,
        to: Iterable[GoogleUser | str],
        subject: str,
        body: str = "",
        *,
        cc: Iterable[GoogleUser | str] = (),
        in_reply_to: str | None = None,
        references: Iterable[str] = (),
        extra_headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
        date: str | None = None,
        thread_id: str | None = None,
    ) -> str:
        """The user writes from Gmail's web UI (no API quota); returns the Message-ID."""
        msg = EmailMessage()
        msg["From"] = email.utils.formataddr((from_user.name, from_user.email))
        msg["To"] = ", ".join(_named(a) for a in to)
        cc = list(cc)
        if cc:
            msg["Cc"] = ", ".join(_named(a) for a in cc)
        msg["Subject"] = subject
        msg["Date"] = date or email.utils.formatdate(localtime=False)
        msg["Message-ID"] = message_id or email.utils.make_msgid(domain=self.domain)
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
        refs = list(references)
        if refs:
            msg["References"] = " ".join(refs)
        for k, v in (extra_headers or {}).items():
            msg[k] = v
        msg.set_content(body or "(no body)\n")
        if thread_id is None and in_reply_to:  # the web UI replies inside the conversation
            mine = self.gmail.find(from_user.email, in_reply_to)
            thread_id = mine[0].thread_id if mine else None
        sent = self.gmail.send_as(
            from_user.email, msg.as_bytes(policy=email.policy.SMTP), thread_id
        )
        return sent.message_id

    def deliver(self, user: GoogleUser, raw: bytes | str, labels=("INBOX", "UNREAD")) -> Msg:
        return self.gmail.deliver(user.email, raw, labels)


def _named(who: GoogleUser | str) -> str:
    if isinstance(who, GoogleUser):
        return email.utils.formataddr((who.name, who.email))
    return who
