"""Locks held for a process's life: one process at a time (ProcessLock), and the per-account
IMAP IDLE claims that spread IDLE connections over watcher processes (IdleClaims)."""

from __future__ import annotations

import contextlib
import threading

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

    def close(self) -> None:
        self.release()

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            conn.commit()
        conn.close()


# PostgreSQL advisory lock keys (the two-int4 form): every watcher with IDLE on holds
# (PRESENCE, 0) shared, so pg_locks counts them; (ACCOUNT, id) is the one process that holds
# IMAP IDLE for that account.
IDLE_PRESENCE_KEY = 0x52574950
IDLE_ACCOUNT_KEY = 0x52574941


class IdleClaims:
    """Per-account IDLE ownership on one dedicated connection: its locks go with it, so the
    accounts of a watcher that dies (or loses its connection) are free for the others at once.
    Used from the loop's and the IDLE login threads: one lock guards the connection."""

    def __init__(self, conn):
        self._conn = conn
        self._lock = threading.Lock()

    def _run(self, sql: str, **params):
        with self._lock:
            if self._conn is None:
                raise RuntimeError("IDLE claims closed")
            value = self._conn.execute(text(sql), params).scalar()
            self._conn.commit()
            return value

    def claim(self, account_id: int) -> bool:
        """This process takes IDLE for the account; False if another process holds it."""
        return bool(
            self._run("SELECT pg_try_advisory_lock(:k, :id)", k=IDLE_ACCOUNT_KEY, id=account_id)
        )

    def release(self, account_id: int) -> None:
        self._run("SELECT pg_advisory_unlock(:k, :id)", k=IDLE_ACCOUNT_KEY, id=account_id)

    def watchers(self) -> int:
        """Watcher processes holding IDLE claims now (this one included)."""
        return self._run(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid::bigint = :k AND objid::bigint = 0 AND objsubid = 2",
            k=IDLE_PRESENCE_KEY,
        )

    def held(self) -> bool:
        """False once the connection is gone (the server freed every claim with it)."""
        try:
            self._run("SELECT 1")
        except Exception:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                # Closed, not handed back to the pool: the server frees the session's
                # advisory locks (the presence one too) only when the session ends.
                conn.invalidate()
                conn.close()


class LockQueries(StoreBase):
    def idle_claims(self) -> IdleClaims:
        """PostgreSQL only: this process's IDLE claims, present to the others from now on."""
        conn = self.engine.connect()
        try:
            conn.execute(text("SELECT pg_advisory_lock_shared(:k, 0)"), {"k": IDLE_PRESENCE_KEY})
            conn.commit()
        except Exception:
            conn.close()
            raise
        return IdleClaims(conn)

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
