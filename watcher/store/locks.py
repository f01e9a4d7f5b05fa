"""The lock one watcher process holds for life (the IDLE leader), and its handle."""

from __future__ import annotations

import contextlib

from sqlalchemy import text

from .base import StoreBase


class ProcessLock:
    """What Store.lock_for_life hands out: still held? and release()."""

    def __init__(self, conn, key: int):
        self._conn, self._key = conn, key

    def held(self) -> bool:
        """False once the connection that holds it is gone (the server freed the lock)."""
        if self._conn is None:
            return True
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except Exception:
            return False
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            conn.commit()
        conn.close()


class LockQueries(StoreBase):
    def lock_for_life(self, key: int) -> ProcessLock | None:
        """A lock one process at a time holds until it releases it or dies.

        PostgreSQL: a session advisory lock on a connection of its own (the server frees it
        when that connection goes); None while another process holds it. SQLite has one
        watcher process by design: always granted."""
        if not self.is_postgres:
            return ProcessLock(None, key)
        conn = self.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return None
        return ProcessLock(conn, key)
