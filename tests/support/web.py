"""Helpers for driving the settings page through Flask's test client, as a user would."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from watcher import followups as fu_ops
from watcher.mailbox import MessageSummary
from watcher.schedule import parse_delay
from web.auth import hash_password

_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
PASSWORD = "correct horse battery staple"


def csrf_token(client, path: str = "/settings/signin") -> str:
    """The CSRF token of this client's session, read from a page as a browser would."""
    page = client.get(path)
    match = _TOKEN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def make_user(app, email: str, password: str = PASSWORD) -> int:
    store = app.extensions["replywatch"]["store"]
    with store.session() as s:
        user = store.get_or_create_user(s, email)
        user.password_hash = hash_password(password)
        return user.id


def sign_in(app, email: str, password: str = PASSWORD):
    """A test client signed in through the password form."""
    client = app.test_client()
    token = csrf_token(client)
    answer = client.post(
        "/settings/signin", data={"csrf_token": token, "email": email, "password": password}
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return client


def seed_followup(app, user_id: int, *, email: str, now: datetime | None = None) -> tuple[int, int]:
    """An IMAP account (never contacted) with one scheduled follow-up: (account, follow-up) ids."""
    store = app.extensions["replywatch"]["store"]
    now = now or datetime.now(UTC)
    with store.session() as s:
        user = store.get_user(s, user_id)
        account = store.add_account(
            s,
            user,
            kind="imap",
            email=email,
            settings={"imap_host": "127.0.0.1", "imap_port": 9, "imap_security": "none"},
            secret='{"imap_password": "secret-imap-pw", "smtp_password": "secret-imap-pw"}',
            now=now,
        )
        anchor = MessageSummary(
            ref="Sent/1/1",
            message_id=f"<anchor-{account.id}@example.test>",
            subject="Quarterly numbers",
            from_addr=email,
            to=("bob@example.test",),
            date=now,
            in_sent=True,
            names={"bob@example.test": "Bob Stone"},
        )
        followup = fu_ops.create_followup(
            store,
            s,
            account=account,
            anchor=anchor,
            stages=[fu_ops.StageSpec(delay=parse_delay("1w"))],
            now=now,
        )
        return account.id, followup.id


def through_google(client, start: str, login: str) -> str:
    """Follow our redirect to the emulated Google and back; returns the callback path."""
    import requests

    answer = client.get(start)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    google = requests.get(
        answer.headers["Location"] + f"&login_hint={login}", allow_redirects=False, timeout=5
    )
    assert google.status_code == 302
    back = google.headers["Location"]
    return back[back.index("/settings/") :]
