"""IDLE that scales, on the real Dovecot: one thread holds every IDLE socket, logins are paced,
a connection the server kills comes back, and a claim spreads accounts over processes."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import threading
import time

from watcher.idle import IdleWatchers
from watcher.idle_connect import Backoff
from watcher.mailbox import open_mailbox

QUICK = Backoff(base=0.05, cap=0.2)  # reconnects in a blink: the test waits on the server only


class News:
    """on_news for a test: who was told, and a way to wait for one account."""

    def __init__(self):
        self.cond = threading.Condition()
        self.told: list[int] = []

    def __call__(self, account_id: int) -> None:
        with self.cond:
            self.told.append(account_id)
            self.cond.notify_all()

    def wait_for(self, account_id: int, seconds: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: account_id in self.told, seconds)


def accounts(mail_world, n: int) -> tuple[dict, dict]:
    users = {i: mail_world.new_user(f"idle{i}") for i in range(1, n + 1)}
    return users, {i: mail_world.account_spec(u) for i, u in users.items()}


def eventually(condition, seconds: float = 20.0) -> bool:
    """Wait, with a deadline, for the real server and the watcher's threads to get there."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.02)
    return True


def deliver(mail_world, user, subject: str = "News") -> None:
    mail_world.deliver(user, f"From: b@example.test\nSubject: {subject}\n\nHello\n")


def test_thirty_accounts_are_watched_by_a_few_threads_and_news_wakes_only_its_account(
    mail_world, config
):
    users, specs = accounts(mail_world, 30)
    news = News()
    before = threading.active_count()
    idle = IdleWatchers(config, news, open_mailbox, backoff=QUICK)
    try:
        idle.sync(specs)
        assert eventually(lambda: idle.idling() == 30), f"only {idle.idling()} of 30 idling"
        # mux + news + the login pool (4): not one thread per account
        assert threading.active_count() - before <= 6
        deliver(mail_world, users[17])
        assert news.wait_for(17), "new mail in account 17 was not reported"
        assert set(news.told) == {17}
    finally:
        started = time.monotonic()
        idle.stop()
        assert time.monotonic() - started < 5
    assert eventually(lambda: threading.active_count() == before, 5)


def test_a_connection_the_server_kills_comes_back_and_still_reports_news(
    mail_world, config, dovecot
):
    doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
    users, specs = accounts(mail_world, 3)
    news = News()
    logins = []

    def counting(spec, cfg):
        logins.append(spec.email)
        return open_mailbox(spec, cfg)

    idle = IdleWatchers(config, news, counting, backoff=QUICK)
    try:
        idle.sync(specs)
        assert eventually(lambda: idle.idling() == 3)
        kicked = users[2].email
        subprocess.run([doveadm, "-c", dovecot.conf, "kick", kicked], check=True, timeout=30)
        assert eventually(lambda: logins.count(kicked) == 2), "no reconnect after the kick"
        assert eventually(lambda: idle.idling() == 3)
        deliver(mail_world, users[2])
        assert news.wait_for(2)
        assert logins.count(users[1].email) == 1  # the others were left alone
    finally:
        idle.stop()


def test_logins_are_paced_never_more_than_the_bound_in_flight(mail_world, config):
    _, specs = accounts(mail_world, 12)
    lock, running, most = threading.Lock(), [0], [0]

    class Counted:
        """The real mailbox; counts logins in flight. Each takes 50 ms longer than on
        loopback (as over the internet), so logins that may overlap do."""

        def __init__(self, spec, cfg):
            self.inner = open_mailbox(spec, cfg)

        def idle_connection(self):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            try:
                threading.Event().wait(0.05)
                return self.inner.idle_connection()
            finally:
                with lock:
                    running[0] -= 1

    config = config.with_overrides(imap_idle_logins_in_flight=2, imap_idle_logins_per_second=100)
    idle = IdleWatchers(config, News(), Counted, backoff=QUICK)
    try:
        idle.sync(specs)
        assert eventually(lambda: idle.idling() == 12)
        assert most[0] == 2
    finally:
        idle.stop()


def test_idle_is_renewed_and_news_after_a_renewal_is_seen(mail_world, config):
    users, specs = accounts(mail_world, 2)
    news = News()
    idle = IdleWatchers(config, news, open_mailbox, backoff=QUICK, renew_seconds=0.2)
    try:
        idle.sync(specs)
        conns = idle._mux._conns
        assert eventually(lambda: all(c.session._count >= 3 for c in list(conns.values())) and
                          len(conns) == 2)  # fmt: skip
        deliver(mail_world, users[1])
        assert news.wait_for(1)
    finally:
        idle.stop()


def test_claims_spread_the_accounts_over_two_processes(mail_world, config):
    """Two watchers with a shared claim table (PostgreSQL's per-account advisory lock in
    production): each holds about half, none twice; when one stops the other takes all."""
    _, specs = accounts(mail_world, 6)
    table: dict[int, str] = {}
    table_lock = threading.Lock()
    live = {"a", "b"}

    def watcher(name: str) -> IdleWatchers:
        def claim(account_id: int) -> bool:
            with table_lock:
                return table.setdefault(account_id, name) == name

        def release(account_id: int) -> None:
            with table_lock:
                if table.get(account_id) == name:
                    del table[account_id]

        def share(n: int) -> int:
            return -(-n // len(live))  # ceil(n / live watchers)

        return IdleWatchers(
            config, News(), open_mailbox, claim=claim, release=release, share=share, backoff=QUICK
        )

    a, b = watcher("a"), watcher("b")
    try:
        a.sync(specs)
        b.sync(specs)
        assert len(a.watched()) == 3 and len(b.watched()) == 3
        assert a.watched() | b.watched() == set(specs)
        assert eventually(lambda: a.idling() == 3 and b.idling() == 3)
        live.discard("a")
        a.stop()
        assert table == {i: "b" for i in b.watched()}  # a gave its claims back
        b.sync(specs)
        assert b.watched() == set(specs)
        assert eventually(lambda: b.idling() == 6)
    finally:
        a.stop()
        b.stop()


def test_a_new_process_takes_over_its_share_and_the_first_gives_it_back(mail_world, config):
    _, specs = accounts(mail_world, 4)
    table: dict[int, str] = {}
    live = {"a"}

    def watcher(name: str) -> IdleWatchers:
        return IdleWatchers(
            config, News(), open_mailbox, backoff=QUICK,
            claim=lambda i: table.setdefault(i, name) == name,
            release=lambda i: table.pop(i) if table.get(i) == name else None,
            share=lambda n: -(-n // len(live)),
        )  # fmt: skip

    a, b = watcher("a"), watcher("b")
    try:
        a.sync(specs)
        assert a.watched() == set(specs)
        live.add("b")
        b.sync(specs)
        assert b.watched() == set()  # all still claimed by a
        a.sync(specs)  # a's next pass: over its share now, it gives two back
        assert len(a.watched()) == 2
        b.sync(specs)
        assert a.watched() | b.watched() == set(specs) and len(b.watched()) == 2
        assert eventually(lambda: a.idling() == 2 and b.idling() == 2)
    finally:
        a.stop()
        b.stop()


def test_a_refused_login_is_retried_with_growing_backoff_until_it_works(
    mail_world, config, dovecot
):
    users, specs = accounts(mail_world, 1)
    attempts: list[float] = []

    def timed(spec, cfg):
        attempts.append(time.monotonic())
        return open_mailbox(spec, cfg)

    right = users[1].password
    dovecot.set_password(users[1].email, "changed-elsewhere")
    idle = IdleWatchers(config, News(), timed, backoff=Backoff(base=0.1, cap=0.4))
    try:
        idle.sync(specs)
        assert eventually(lambda: len(attempts) >= 4)
        gaps = [b - a for a, b in itertools.pairwise(attempts[:4])]
        # attempt n waits between half and all of min(cap, base * 2**n): 0.05+, 0.1+, 0.2+
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2, gaps
        assert idle.idling() == 0
        dovecot.set_password(users[1].email, right)
        assert eventually(lambda: idle.idling() == 1), "never connected once the login worked"
    finally:
        idle.stop()


def test_if_a_bug_ends_the_multiplexer_the_next_sync_starts_it_again(mail_world, config):
    users, specs = accounts(mail_world, 2)
    news = News()
    idle = IdleWatchers(config, news, open_mailbox, backoff=QUICK)
    try:
        idle.sync(specs)
        assert eventually(lambda: idle.idling() == 2)
        broken = idle._mux

        def bug():
            raise RuntimeError("a bug in the multiplexer")

        broken._timers = bug
        broken._command("nudge", 0, None)  # wakes the loop, which then runs the bug
        assert eventually(lambda: not broken.alive())
        idle.sync(specs)  # the engine's next full pass
        assert idle._mux is not broken
        assert eventually(lambda: idle.idling() == 2)
        deliver(mail_world, users[2])
        assert news.wait_for(2)
    finally:
        idle.stop()
