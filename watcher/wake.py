"""Wake-ups: "account N has news" (a Gmail push, a new follow-up) reaches every watcher process.

On PostgreSQL through LISTEN/NOTIFY, so a push received by the web app wakes whichever watcher
process is idle; on SQLite (one process) the web app and the watcher thread share the Engine and
call `Engine.wake_account` directly. Polling stays the safety net either way: a lost
notification only means the change is seen at the next regular pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import text

log = logging.getLogger(__name__)

CHANNEL = "replywatch_wake"


def notify(store, account_id: int) -> None:
    """Tell every listening watcher that an account has news (no-op on SQLite)."""
    if not store.is_postgres:
        return
    with store.engine.begin() as conn:
        conn.execute(text("SELECT pg_notify(:channel, :payload)"), {
            "channel": CHANNEL, "payload": str(int(account_id))
        })  # fmt: skip


class Listener:
    """A thread that LISTENs on its own connection and calls `on_wake(account_id)`."""

    def __init__(self, database_url: str, on_wake: Callable[[int], None]):
        self.url = database_url
        self.on_wake = on_wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wake-listener", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        import psycopg  # only PostgreSQL deployments get here

        dsn = self.url.replace("postgresql+psycopg://", "postgresql://", 1)
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            if note.payload.isdigit():
                                self.on_wake(int(note.payload))
            except Exception:  # the database went away: polling covers it, try again soon
                log.warning("wake-up listener lost its connection; retrying", exc_info=True)
                self._stop.wait(5)
