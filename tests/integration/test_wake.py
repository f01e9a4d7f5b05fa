"""Wake-ups: a NOTIFY on PostgreSQL starts a pass at once in another watcher, news first."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

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
    opened = threading.Event()

    def factory(spec, cfg):
        opened.set()
        return open_mailbox(spec, cfg)

    engine = Engine(store, config, mailbox_factory=factory)
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
