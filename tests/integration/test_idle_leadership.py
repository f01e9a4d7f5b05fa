"""IMAP IDLE spread over watcher processes: on PostgreSQL each claims its share of the inboxes
(an advisory lock per account), and a dead holder's share moves to the others."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import text

from tests.support.mailboxes import WrappedMailbox
from watcher.engine import Engine
from watcher.store import Store
from watcher.store.locks import IDLE_ACCOUNT_KEY
from watcher.wake import Listener

INBOXES = 4


def _engine(config, pg_url, worker: str) -> Engine:
    config = config.with_overrides(database_url=pg_url, worker_id=worker, imap_idle=True)
    return Engine(Store(pg_url, config.encryption_keys), config)


def _add_inboxes(store, mail_world, n=INBOXES) -> set[int]:
    ids = set()
    for i in range(n):
        person = mail_world.new_user(f"idler{i}")
        spec = mail_world.account_spec(person)
        with store.session() as s:
            user = store.get_or_create_user(s, person.email)
            ids.add(
                store.add_account(
                    s, user, kind="imap", email=person.email, settings=dict(spec.settings),
                    secret=spec.secret, now=datetime.now(UTC),
                ).id
            )  # fmt: skip
    return ids


def _sync_rounds(*engines) -> None:
    """What each loop does every full pass, a few rounds: a watcher that came first holds
    more than its share until it gives the surplus back on its next sync."""
    for _ in range(2):
        for engine in engines:
            idle = engine._idle_watchers()
            assert idle is not None  # on PostgreSQL every watcher takes part
            idle.sync(engine._idle_accounts())


def _watched(engine) -> set[int]:
    return engine._idle.watched() if engine._idle is not None else set()


def test_each_watcher_holds_its_share_and_a_stopped_ones_share_moves(mail_world, config, pg_url):
    first, second = _engine(config, pg_url, "w1"), _engine(config, pg_url, "w2")
    try:
        inboxes = _add_inboxes(first.store, mail_world)
        first._idle_watchers(), second._idle_watchers()  # both present from the start
        idle = first._idle
        _sync_rounds(first, second)
        assert first._idle is idle  # kept, not rebuilt, pass after pass
        assert len(_watched(first)) == len(_watched(second)) == INBOXES // 2
        assert _watched(first) | _watched(second) == inboxes  # one connection per inbox
        first._drop_idle()  # SIGTERM: the first one stops and gives its claims back
        _sync_rounds(second)
        assert _watched(second) == inboxes
    finally:
        for engine in (first, second):
            engine._drop_idle()
            engine.store.dispose()


def test_a_watcher_whose_database_connection_died_loses_its_share(mail_world, config, pg_url):
    first, second = _engine(config, pg_url, "w1"), _engine(config, pg_url, "w2")
    try:
        inboxes = _add_inboxes(first.store, mail_world)
        first._idle_watchers(), second._idle_watchers()
        _sync_rounds(first, second)
        lost = _watched(first)
        old = first._idle
        # The server drops the first watcher's claims session. pg_terminate_backend only
        # signals the backend; given a timeout (PostgreSQL 14+) it waits until the backend
        # has exited and so released its locks.
        with second.store.engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 30000) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND classid::bigint = :k AND objid::bigint = :id"
                ),
                {"k": IDLE_ACCOUNT_KEY, "id": min(lost)},
            )
            conn.commit()
        second._idle.sync(second._idle_accounts())  # alone now: it takes every inbox
        assert _watched(second) == inboxes
        # The first one notices, stands down its old connections and comes back for a share.
        assert first._idle_watchers() is not old and not old.watched()
        _sync_rounds(second, first)
        assert len(_watched(first)) == len(_watched(second)) == INBOXES // 2
        assert _watched(first) | _watched(second) == inboxes
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
