"""Watchers share the polling: `run`'s passes skip accounts any watcher checked within the poll
interval, serve woken accounts at once, and serve the due ones with a pool of account workers
fed by batch claims."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.support.mailboxes import WrappedMailbox
from watcher.engine import Engine
from watcher.store import Store

ACCOUNTS = 6


class Served:
    """A mailbox factory that counts the checks per account: each check reads the account's
    changes once (a kept session serves several checks, so mailboxes made would not do)."""

    def __init__(self):
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        served = self

        class Counting(WrappedMailbox):
            def __init__(self, spec, cfg):
                super().__init__(spec, cfg)
                self.counted_email = spec.email

            def changes(self, cursor):
                with served._lock:
                    served.counts[self.counted_email] += 1
                return self.inner.changes(cursor)

        self.factory = Counting


def _add_accounts(store, mail_world, clock, n=ACCOUNTS) -> dict[int, str]:
    accounts = {}
    for i in range(n):
        person = mail_world.new_user(f"poll{i}")
        spec = mail_world.account_spec(person)
        with store.session() as s:
            user = store.get_or_create_user(s, person.email)
            account = store.add_account(
                s, user, kind="imap", email=person.email, settings=dict(spec.settings),
                secret=spec.secret, now=clock.now(),
            )  # fmt: skip
            accounts[account.id] = person.email
    return accounts


def _engines(config, url, clock, served, n, workers):
    engines = []
    for i in range(n):
        cfg = config.with_overrides(
            database_url=url, worker_id=f"w{i}", imap_idle=False, workers=workers
        )
        store = Store(url, cfg.encryption_keys)
        engines.append(Engine(store, cfg, clock=clock.now, mailbox_factory=served.factory))
    return engines


def _passes_together(engines) -> None:
    """One loop-mode pass in every engine, started at the same moment."""
    start = threading.Barrier(len(engines))
    failures = []

    def one(engine):
        start.wait()
        try:
            report = engine.run_pass(respect_interval=True)
            assert report.account_faults == 0, report.faults
        except BaseException as e:  # reported to the test's thread below
            failures.append(e)

    threads = [threading.Thread(target=one, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures


def test_three_watchers_check_each_account_once_per_interval(mail_world, config, pg_url, clock):
    served = Served()
    engines = _engines(config, pg_url, clock, served, n=3, workers=2)
    try:
        accounts = _add_accounts(engines[0].store, mail_world, clock)
        _passes_together(engines)
        assert served.counts == Counter(dict.fromkeys(accounts.values(), 1))
        _passes_together(engines)  # the clock has not moved: every account is fresh
        assert served.counts == Counter(dict.fromkeys(accounts.values(), 1))
        clock.advance(seconds=config.poll_interval)
        _passes_together(engines)
        assert served.counts == Counter(dict.fromkeys(accounts.values(), 2))
    finally:
        for engine in engines:
            engine.store.dispose()


@pytest.mark.parametrize("workers", [1, 3])
def test_a_pass_serves_every_due_account_once_on_sqlite(mail_world, config, clock, workers):
    served = Served()
    (engine,) = _engines(config, config.database_url, clock, served, n=1, workers=workers)
    engine.store.migrate()
    try:
        accounts = _add_accounts(engine.store, mail_world, clock)
        report = engine.run_pass(respect_interval=True)
        assert report.accounts == ACCOUNTS and report.served == set(accounts)
        assert served.counts == Counter(dict.fromkeys(accounts.values(), 1))
    finally:
        engine.store.dispose()


def test_a_woken_account_is_served_at_once_though_fresh(mail_world, config, clock):
    served = Served()
    (engine,) = _engines(config, config.database_url, clock, served, n=1, workers=2)
    engine.store.migrate()
    try:
        accounts = _add_accounts(engine.store, mail_world, clock, n=3)
        engine.run_pass(respect_interval=True)
        woken = min(accounts)
        clock.advance(seconds=5)  # well within the interval: all fresh
        assert engine.run_pass(respect_interval=True).accounts == 0
        engine.wake_account(woken)
        report = engine.run_pass(woken_only=True, respect_interval=True)
        assert report.served == {woken}
        assert served.counts[accounts[woken]] == 2
    finally:
        engine.store.dispose()


def test_once_still_checks_every_account_every_call(mail_world, config, clock):
    served = Served()
    (engine,) = _engines(config, config.database_url, clock, served, n=1, workers=4)
    engine.store.migrate()
    try:
        accounts = _add_accounts(engine.store, mail_world, clock, n=3)
        engine.run_pass()
        engine.run_pass()  # the clock has not moved, and still every account is checked
        assert served.counts == Counter(dict.fromkeys(accounts.values(), 2))
    finally:
        engine.store.dispose()


def test_a_failing_account_backs_off_and_the_others_are_served(mail_world, config, clock):
    served = Served()
    (engine,) = _engines(config, config.database_url, clock, served, n=1, workers=2)
    engine.store.migrate()
    try:
        accounts = _add_accounts(engine.store, mail_world, clock, n=2)
        broken = min(accounts)
        with engine.store.session() as s:
            engine.store.find_account(s, str(broken)).settings = {
                "imap_host": "127.0.0.1", "imap_port": 9, "imap_security": "none",
            }  # fmt: skip
        report = engine.run_pass(respect_interval=True)
        assert report.account_faults == 1 and report.served == set(accounts)
        clock.advance(seconds=config.poll_interval)  # less than the backoff
        report = engine.run_pass(respect_interval=True)
        assert report.served == {max(accounts)}
    finally:
        engine.store.dispose()


def test_a_pass_longer_than_the_interval_stops_claiming_and_the_next_goes_on(
    mail_world, config, clock, monkeypatch
):
    """A watcher with more accounts than it checks in an interval: each pass stops claiming
    after an interval (so what runs between passes runs), the next takes the accounts not yet
    reached, and an account woken meanwhile is kept for the next pass, which serves it first."""
    served = Served()
    (engine,) = _engines(config, config.database_url, clock, served, n=1, workers=1)
    engine.store.migrate()
    interval = engine.config.poll_interval
    serve_account = engine.serve_account
    first, second, third = sorted(_add_accounts(engine.store, mail_world, clock, n=3))

    checks = []

    def slow_serve(account_id, report, **kwargs):
        checks.append(account_id)
        if len(checks) > 3:  # a pass that never ends: stop it, the assertion below says so
            engine.stop()
        done = serve_account(account_id, report, **kwargs)
        if account_id == first:
            engine.wake_account(third)  # news while the pass runs out of time
        clock.advance(seconds=interval + 1)  # each check outlasts the interval
        return done

    monkeypatch.setattr(engine, "serve_account", slow_serve)
    try:
        passes = [engine.run_pass(respect_interval=True).served for _ in range(3)]
        assert passes == [{first}, {third}, {second}]
    finally:
        engine.store.dispose()
