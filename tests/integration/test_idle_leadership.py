"""IMAP IDLE in one watcher process only: the holder of a PostgreSQL advisory lock."""

from __future__ import annotations

from sqlalchemy import text

from watcher.engine import IDLE_LOCK_KEY, Engine
from watcher.store import Store


def _engine(config, pg_url, worker: str) -> Engine:
    config = config.with_overrides(database_url=pg_url, worker_id=worker, imap_idle=True)
    return Engine(Store(pg_url, config.encryption_keys), config)


def test_one_watcher_holds_idle_and_another_takes_over_when_it_stops(config, pg_url):
    first, second = _engine(config, pg_url, "w1"), _engine(config, pg_url, "w2")
    try:
        assert first._idle_watchers() is not None
        assert first._idle_watchers() is first._idle  # kept, not rebuilt, pass after pass
        assert second._idle_watchers() is None  # polls; the first watcher's IDLE wakes it
        first._drop_idle()  # SIGTERM: the first one stops
        assert second._idle_watchers() is not None
        assert first._idle_watchers() is None
    finally:
        for engine in (first, second):
            engine._drop_idle()
            engine.store.dispose()


def test_a_watcher_whose_database_connection_died_gives_idle_up(config, pg_url):
    first, second = _engine(config, pg_url, "w1"), _engine(config, pg_url, "w2")
    try:
        assert first._idle_watchers() is not None
        with second.store.engine.connect() as conn:  # the server drops the holder's session
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = :k"
                ),
                {"k": IDLE_LOCK_KEY},
            )
            conn.commit()
        assert second._idle_watchers() is not None  # the lock went with the session
        assert first._idle_watchers() is None  # and the first one notices and stands down
        assert first._idle is None
    finally:
        for engine in (first, second):
            engine._drop_idle()
            engine.store.dispose()


def test_on_sqlite_the_one_watcher_always_holds_idle(config):
    store = Store.from_config(config)
    store.migrate()
    engine = Engine(store, config.with_overrides(imap_idle=True))
    try:
        assert engine._idle_watchers() is not None
    finally:
        engine._drop_idle()
        store.dispose()
