"""Wake-ups: a NOTIFY on PostgreSQL starts a pass at once in another watcher, news first."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from tests.support.mailboxes import WrappedMailbox
from watcher import wake
from watcher.engine import Engine
from watcher.mailbox import open_mailbox
from watcher.store import Store

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _connect(store, world, user):
    spec = world.account_spec(user)
    with store.session() as s:
        owner = store.get_or_create_user(s, user.email)
        account = store.add_account(
            s, owner, kind="imap", email=user.email, settings=dict(spec.settings),
            secret=spec.secret, now=T0,
        )  # fmt: skip
        return account.id


def test_a_notify_wakes_an_idle_watcher_in_another_process(mail_world, config, pg_url):
    config = config.with_overrides(database_url=pg_url, poll_interval=3600.0, imap_idle=False)
    store = Store(pg_url, config.encryption_keys)
    account_id = _connect(store, mail_world, mail_world.new_user("alice"))
    opened = threading.Event()  # set by each check of the account (its session is kept)

    class Checked(WrappedMailbox):
        def changes(self, cursor):
            opened.set()
            return self.inner.changes(cursor)

    engine = Engine(store, config, mailbox_factory=Checked)
    worker = threading.Thread(target=engine.run_forever)
    worker.start()
    try:
        assert opened.wait(20), "the first pass never ran"
        opened.clear()
        assert not opened.wait(1.0)  # idle: the next poll is an hour away
        other = Store(pg_url, config.encryption_keys)  # e.g. the web app receiving a push
        wake.notify(other, account_id)
        other.dispose()
        assert opened.wait(10), "the NOTIFY did not wake the watcher"
    finally:
        engine.stop()
        worker.join(20)
    assert not worker.is_alive()
    store.dispose()


def test_woken_accounts_are_claimed_first(db_config, mail_world):
    store = Store.from_config(db_config)
    store.migrate()
    first = _connect(store, mail_world, mail_world.new_user("a"))
    second = _connect(store, mail_world, mail_world.new_user("b"))
    lease = timedelta(minutes=5)
    assert store.claim_account("w", T0, lease, prefer=[second]) == second
    assert store.claim_account("w", T0, lease, prefer=[second]) == first  # then the rest
    store.dispose()


def test_a_woken_pass_serves_only_the_accounts_with_news(db_config, mail_world):
    """A push or IDLE between two polls re-checks that inbox, not every account."""
    store = Store.from_config(db_config)
    store.migrate()
    quiet_user, busy_user = mail_world.new_user("quiet"), mail_world.new_user("busy")
    quiet = _connect(store, mail_world, quiet_user)
    busy = _connect(store, mail_world, busy_user)
    assert store.claim_account("w", T0, timedelta(minutes=5), only=[]) is None
    opened: list[str] = []

    def factory(spec, cfg):
        opened.append(spec.email)
        return open_mailbox(spec, cfg)

    engine = Engine(store, db_config, clock=lambda: T0, mailbox_factory=factory)
    assert engine.run_pass().accounts == 2  # a full pass: both
    assert engine.run_pass(woken_only=True).accounts == 0  # nobody woken: nothing
    engine.wake_account(busy)
    opened.clear()
    assert engine.run_pass(woken_only=True).accounts == 1
    assert opened == [busy_user.email]
    engine.wake_account(quiet)
    assert engine.run_pass().accounts == 2  # a full pass still serves everyone
    store.dispose()
