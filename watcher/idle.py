"""IMAP IDLE (RFC 2177): new mail in an INBOX wakes the watcher at once instead of at the next
poll. One thread and one connection per IMAP account; polling stays the safety net, so a
dropped connection only costs latency. IDLE is re-issued every 9 minutes, before servers
(Gmail at about 10) drop it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from .mailbox import AccountSpec

log = logging.getLogger(__name__)

RENEW_SECONDS = 9 * 60
RETRY_SECONDS = 60.0
CHECK_SECONDS = 1.0  # how often a thread looks at its stop flag


class IdleWatchers:
    def __init__(self, config, on_news: Callable[[int], None], open_mailbox: Callable):
        self.config = config
        self.on_news = on_news
        self.open_mailbox = open_mailbox
        self._threads: dict[int, tuple[threading.Thread, threading.Event, AccountSpec]] = {}

    def sync(self, accounts: dict[int, AccountSpec]) -> None:
        """Watch exactly these IMAP accounts: start new ones, stop gone or changed ones."""
        for account_id in list(self._threads):
            thread, stop, spec = self._threads[account_id]
            if accounts.get(account_id) != spec or not thread.is_alive():
                stop.set()
                del self._threads[account_id]
        for account_id, spec in accounts.items():
            if account_id not in self._threads:
                stop = threading.Event()
                thread = threading.Thread(
                    target=self._watch, args=(account_id, spec, stop), daemon=True,
                    name=f"idle-{account_id}",
                )  # fmt: skip
                self._threads[account_id] = (thread, stop, spec)
                thread.start()

    def stop(self) -> None:
        for _, stop, _ in self._threads.values():
            stop.set()
        for thread, _, _ in self._threads.values():
            thread.join(CHECK_SECONDS * 5)
        self._threads.clear()

    def _watch(self, account_id: int, spec: AccountSpec, stop: threading.Event) -> None:
        while not stop.is_set():
            conn = None
            try:
                conn = self.open_mailbox(spec, self.config).idle_connection()
                if conn is None:
                    log.info("account %s: the server has no IDLE; polling only", account_id)
                    return
                self._idle(account_id, conn, stop)
            except Exception as e:  # a dropped line or a refused login: polling covers it
                log.info("account %s: IDLE stopped (%s); retrying later", account_id, e)
                stop.wait(RETRY_SECONDS)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.logout()

    def _idle(self, account_id: int, conn, stop: threading.Event) -> None:
        while not stop.is_set():
            conn.idle()
            renew_at = time.monotonic() + RENEW_SECONDS
            try:
                while not stop.is_set() and time.monotonic() < renew_at:
                    responses = conn.idle_check(timeout=CHECK_SECONDS)
                    if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                        self.on_news(account_id)
            finally:
                conn.idle_done()
