"""Kept IMAP sessions on the real Dovecot: `run`'s passes log in once and check every pass; a
session the server drops is opened again and nothing is missed; `once` still logs in afresh.
And news that comes during a pass is served in that pass, by a free worker."""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.test_watcher_e2e import add_followup, connect, state_of
from tests.support.mailboxes import WrappedMailbox
from watcher.engine import Engine
from watcher.imap import connection
from watcher.imap.constants import BUMPS_FOLDER, TRIGGER_ROLES
from watcher.mailbox import open_mailbox
from watcher.models import Account
from watcher.store import Store

INTERVAL = 60.0


def logins(dovecot, email: str) -> int:
    """Logins Dovecot logged for this address (its imap-login "Login: user=<...>" lines)."""
    return dovecot.read_log().count(f"Login: user=<{email}>")


def logins_settle(dovecot, email: str, expected: int | None = None) -> int:
    """Dovecot's log process writes a moment after the login: wait for `expected` (or, with
    None, for the count to hold still for 0.2 s), then report what is there."""
    deadline = time.monotonic() + 5
    last = -1
    while time.monotonic() < deadline:
        now = logins(dovecot, email)
        if (expected is None and now == last) or (expected is not None and now >= expected):
            break
        last = now
        threading.Event().wait(0.2 if expected is None else 0.05)
    return logins(dovecot, email)


@pytest.fixture
def loop_engine(config, clock):
    """An engine whose passes are `run`'s (respect_interval), IDLE off: only the passes log in."""
    config = config.with_overrides(poll_interval=INTERVAL, imap_idle=False)
    store = Store.from_config(config)
    store.migrate()
    engine = Engine(store, config, clock=clock.now)
    yield engine
    if engine.kept is not None:
        engine.kept.close_all()
    store.dispose()


def test_run_s_passes_log_in_once_and_check_every_pass(
    mail_world, cli, loop_engine, clock, dovecot
):
    alice, bob = mail_world.new_user("kept"), mail_world.new_user("bob")
    connect(cli, mail_world, alice)
    mid = mail_world.send(alice, [bob], "Kept?", "?")
    fid = add_followup(cli, alice, mid, "--after", "1w")
    base = logins_settle(dovecot, alice.email)  # setting up logged in too (Sent, the CLI)
    for _ in range(3):
        report = loop_engine.run_pass(respect_interval=True)
        assert report.accounts == 1 and report.account_faults == 0, report.faults
        clock.advance(seconds=INTERVAL)
    assert logins_settle(dovecot, alice.email, base + 1) == base + 1
    assert len(loop_engine.kept) == 1
    mail_world.send(bob, [alice], "Re: Kept?", "Yes", in_reply_to=mid, references=[mid])
    base = logins_settle(dovecot, alice.email)  # the test's delivery logs in as alice
    loop_engine.run_pass(respect_interval=True)
    assert state_of(loop_engine.store, fid) == "replied"  # the kept session sees new mail
    assert logins_settle(dovecot, alice.email) == base


def test_a_kept_session_the_server_drops_is_opened_again_and_nothing_is_missed(
    mail_world, cli, loop_engine, clock, dovecot
):
    doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
    # One attempt per call: the session must be found dead before use (NOOP), not by a
    # failed STATUS and the retry policy's wait (seconds, in production).
    loop_engine.config = loop_engine.config.with_overrides(retry_attempts=1)
    alice, bob = mail_world.new_user("kept"), mail_world.new_user("bob")
    connect(cli, mail_world, alice)
    mid = mail_world.send(alice, [bob], "Dropped?", "?")
    fid = add_followup(cli, alice, mid, "--after", "1w")
    base = logins_settle(dovecot, alice.email)
    loop_engine.run_pass(respect_interval=True)
    assert logins_settle(dovecot, alice.email, base + 1) == base + 1
    # The server ends the kept session (a restart, an admin's kick, a NAT that forgot it)...
    subprocess.run([doveadm, "-c", dovecot.conf, "kick", alice.email], check=True, timeout=30)
    # ...and the reply lands while nobody is logged in.
    mail_world.send(bob, [alice], "Re: Dropped?", "Yes", in_reply_to=mid, references=[mid])
    base = logins_settle(dovecot, alice.email)  # the test's delivery logs in as alice
    clock.advance(seconds=INTERVAL)
    report = loop_engine.run_pass(respect_interval=True)
    assert report.account_faults == 0, report.faults  # no fault, no backoff: a new login
    assert state_of(loop_engine.store, fid) == "replied"
    assert logins_settle(dovecot, alice.email, base + 1) == base + 1


def test_once_s_passes_log_in_afresh_and_keep_nothing(mail_world, cli, loop_engine, dovecot):
    alice = mail_world.new_user("kept")
    connect(cli, mail_world, alice)
    base = logins_settle(dovecot, alice.email)
    loop_engine.run_pass()
    loop_engine.run_pass()
    assert logins_settle(dovecot, alice.email, base + 2) == base + 2
    assert len(loop_engine.kept) == 0


def test_with_keep_seconds_0_every_check_logs_in(mail_world, cli, config, clock, dovecot):
    config = config.with_overrides(imap_idle=False, imap_keep_seconds=0)
    store = Store.from_config(config)
    engine = Engine(store, config, clock=clock.now)
    alice = mail_world.new_user("kept")
    connect(cli, mail_world, alice)
    base = logins_settle(dovecot, alice.email)
    engine.run_pass(respect_interval=True)
    clock.advance(seconds=config.poll_interval)
    engine.run_pass(respect_interval=True)
    assert engine.kept is None
    assert logins_settle(dovecot, alice.email, base + 2) == base + 2
    store.dispose()


@pytest.mark.parametrize("workers", [1, 2])
def test_news_during_a_pass_is_served_in_that_pass(mail_world, cli, config, clock, workers):
    """A wake-up (IDLE, push) while an account is being checked: with 2 workers the free one
    serves it while the slow check still runs; with 1, right after the account in hand."""
    config = config.with_overrides(imap_idle=False, workers=workers)
    slow_user, woken_user = mail_world.new_user("slow"), mail_world.new_user("news")
    connect(cli, mail_world, slow_user)
    connect(cli, mail_world, woken_user)
    store = Store.from_config(config)
    with store.session() as s:
        ids = {a.email: a.id for a in store.list_accounts(s)}
    news_checked = threading.Event()
    waited_in_vain = []
    engine = None

    class Observed(WrappedMailbox):
        def changes(self, cursor):
            if self.email == woken_user.email:
                news_checked.set()
            elif engine.slow_check:  # the slow account's check, with news coming meanwhile
                engine.slow_check = False
                engine.wake_account(ids[woken_user.email], "idle")
                if workers > 1 and not news_checked.wait(10):
                    waited_in_vain.append(True)
            return self.inner.changes(cursor)

    engine = Engine(store, config, clock=clock.now, mailbox_factory=Observed)
    engine.slow_check = False
    engine.run_pass(respect_interval=True)  # both checked: fresh for the next minute
    news_checked.clear()
    clock.advance(seconds=5)
    engine.slow_check = True
    engine.wake_account(ids[slow_user.email], "idle")
    report = engine.run_pass(woken_only=True, respect_interval=True)
    assert not waited_in_vain, "the woken account waited for the slow one's check to end"
    assert report.served == set(ids.values())
    assert news_checked.is_set()
    engine.kept.close_all()
    store.dispose()


def test_a_kept_session_lists_its_folders_again_after_a_while(mail_world, config, monkeypatch):
    """A folder the user makes while the session is kept is seen within FOLDERS_KEPT_SECONDS."""
    now = [1000.0]
    monkeypatch.setattr(connection, "_monotonic", lambda: now[0])
    user = mail_world.new_user("kept")
    mailbox = open_mailbox(mail_world.account_spec(user), config)
    role = TRIGGER_ROLES[BUMPS_FOLDER]
    try:
        with mailbox.conn.session("test") as c:
            assert role not in mailbox.conn.folder_names(c)
            c.create_folder(mailbox.conn.server_name(c, BUMPS_FOLDER))  # the user makes it
        mailbox.resume()
        with mailbox.conn.session("test") as c:  # a minute later: the list is trusted
            assert role not in mailbox.conn.folder_names(c)
        now[0] += connection.FOLDERS_KEPT_SECONDS + 1
        mailbox.resume()
        with mailbox.conn.session("test") as c:
            assert role in mailbox.conn.folder_names(c)
    finally:
        mailbox.close()


T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # a fixed "now" for the claim tests


def _accounts_checked_at(store, name: str, last_checks: list) -> list[int]:
    """Bare IMAP accounts (never connected to) last checked at these moments (None: never)."""
    ids = []
    with store.session() as s:
        for i, last_ok_at in enumerate(last_checks):
            user = store.get_or_create_user(s, f"{name}{i}@example.test")
            account = store.add_account(
                s, user, kind="imap", email=user.email, settings={}, secret="{}", now=T0
            )
            account.last_ok_at = last_ok_at
            ids.append(account.id)
    return ids


def test_a_watcher_claims_the_accounts_it_keeps_sessions_for_first_but_not_before_a_late_one(
    pg_url, config
):
    """With several watchers each goes on checking the accounts whose sessions it keeps (no new
    login); an account unchecked since `late_before` still goes first (no starvation)."""
    store = Store(pg_url, config.encryption_keys)
    t0 = T0
    # all checked in the last pass
    ids = _accounts_checked_at(store, "claim", [t0 - timedelta(seconds=90 - i) for i in range(5)])
    claim = functools.partial(
        store.claim_accounts,
        "w1",
        t0,
        timedelta(minutes=5),
        2,
        fresh_for=timedelta(seconds=45),
        late_before=t0 - timedelta(seconds=90),
    )
    kept = ids[3:]
    assert claim(kept=kept) == kept  # not the least recently checked: the kept ones
    with store.session() as s:  # ids[0] was left unchecked for a long time: it is late
        s.get(Account, ids[0]).last_ok_at = t0 - timedelta(minutes=10)
        for account_id in kept:  # served and released
            s.get(Account, account_id).lease_owner = None
            s.get(Account, account_id).lease_until = None
    assert claim(kept=kept) == [ids[0], ids[3]]
    store.dispose()


def test_a_watcher_that_cannot_keep_up_still_reaches_the_accounts_it_never_checked(pg_url, config):
    """More accounts than one watcher checks in an interval: the accounts whose sessions it
    keeps are late again by the time it is through, and so are the ones it has not reached.
    The late go oldest first (never checked first), not kept first, or the watcher would go
    round its kept sessions for ever (seen with 3,000 accounts and 2,000 kept sessions)."""
    store = Store(pg_url, config.encryption_keys)
    t0 = T0
    # 0 and 1 checked 3 and 4 minutes ago (sessions kept), 2 never, 3 ten minutes ago
    minutes_ago = [3, 4, None, 10]
    ids = _accounts_checked_at(
        store, "behind", [m and t0 - timedelta(minutes=m) for m in minutes_ago]
    )
    claimed = store.claim_accounts(
        "w1",
        t0,
        timedelta(minutes=5),
        3,
        fresh_for=timedelta(seconds=45),
        kept=ids[:2],
        late_before=t0 - timedelta(seconds=90),
    )
    assert claimed == sorted([ids[2], ids[3], ids[1]])
    with store.session() as s:  # in that order: the one left out is the most recent kept one
        assert s.get(Account, ids[0]).lease_owner is None
    store.dispose()
