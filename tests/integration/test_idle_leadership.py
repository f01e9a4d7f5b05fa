"""IMAP IDLE in one watcher process only: the holder of a PostgreSQL advisory lock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import text

from tests.support.mailboxes import WrappedMailbox
from watcher.engine import IDLE_LOCK_KEY, Engine
from watcher.store import Store
from watcher.wake import Listener


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
        # The server drops the holder's session. pg_terminate_backend only signals the
        # backend; given a timeout (PostgreSQL 14+) it waits until the backend has
        # exited and so released its locks. Without it the lock could still be held
        # when the second watcher asked (CI saw that once under load).
        with second.store.engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 30000) FROM pg_locks "
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


def test_new_mail_seen_by_the_idle_holder_wakes_the_other_watchers_too(mail_world, config, pg_url):
    """The account may be in another watcher's hands: IDLE's news goes out as a NOTIFY."""
    alice = mail_world.new_user("alice")
    holder = _engine(config, pg_url, "holder")
    holder.config = holder.config.with_overrides(poll_interval=3600.0)
    holder.store.migrate()
    spec = mail_world.account_spec(alice)
    with holder.store.session() as s:
        user = holder.store.get_or_create_user(s, alice.email)
        account_id = holder.store.add_account(
            s, user, kind="imap", email=alice.email, settings=dict(spec.settings),
            secret=spec.secret, now=datetime.now(UTC),
        ).id  # fmt: skip
    idling, other_woken = threading.Event(), threading.Event()

    class Observed(WrappedMailbox):
        def idle_connection(self):
            conn = self.inner.idle_connection()
            idling.set()
            return conn

    holder.mailbox_factory = Observed
    other = _engine(config, pg_url, "other")
    other.config = other.config.with_overrides(poll_interval=3600.0)
    other.wake_account = lambda account: other_woken.set() if account == account_id else None
    listener = Listener(pg_url, other.wake_account).start()
    worker = threading.Thread(target=holder.run_forever)
    worker.start()
    try:
        assert idling.wait(20), "IDLE never started"
        mail_world.send(mail_world.new_user("bob"), [alice], "Hello", "News")
        assert other_woken.wait(15), "the other watcher was not told"
    finally:
        holder.stop()
        worker.join(30)
        listener.stop()
        holder.store.dispose()
        other.store.dispose()
    assert not worker.is_alive()
