"""Reading a user's mailbox while a page waits: bounded in time, never inside a DB session.

A page that lists the user's sent mail, or finds one message by its Message-ID, talks to the mail
server while the browser waits. A slow or unreachable server must cost the user a clear message
after a few seconds, not a request that hangs for the socket timeouts of every retry. So the read
runs in a worker thread with one total limit; the sockets' own timeouts are cut to that limit
too, so a thread left behind after the limit ends soon and closes its connection itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from flask import current_app

from watcher.errors import MailboxUnavailable
from watcher.mailbox import AccountSpec, Mailbox, open_mailbox

T = TypeVar("T")

# Seconds a page waits for the mail server (the app config REPLYWATCH_PAGE_MAIL_SECONDS wins).
PAGE_MAIL_SECONDS = 15.0


def page_mail_seconds() -> float:
    return float(current_app.config.get("REPLYWATCH_PAGE_MAIL_SECONDS", PAGE_MAIL_SECONDS))


def read_mail(spec: AccountSpec, config, action: Callable[[Mailbox], T], what: str) -> T:
    """`action(mailbox)` on the account's mailbox within page_mail_seconds(); raises
    MailboxUnavailable ("... did not answer within 15 seconds") when the time runs out, and
    whatever the mailbox raised otherwise. `what` names the read in that message."""
    seconds = page_mail_seconds()
    bounded = config.with_overrides(
        imap_timeout=min(config.imap_timeout, seconds),
        smtp_timeout=min(config.smtp_timeout, seconds),
        gmail_timeout=min(config.gmail_timeout, seconds),
        retry_attempts=1,  # the page says "try again"; the user decides, not a backoff loop
    )
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            with open_mailbox(spec, bounded) as mailbox:
                outcome["value"] = action(mailbox)
        except BaseException as e:  # handed to the waiting request below
            outcome["error"] = e

    worker = threading.Thread(target=work, name=f"page-mail-{spec.email}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise MailboxUnavailable(
            f"{spec.email} did not answer within {seconds:g} seconds while {what}"
        )
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
