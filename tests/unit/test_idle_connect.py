"""Opening IDLE connections: backoff with jitter, and the paced login pool."""

from __future__ import annotations

import random
import threading
import time

import pytest

from watcher.idle_connect import Backoff, LoginPool


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(0, 1.0, 2.0), (1, 2.0, 4.0), (3, 8.0, 16.0), (8, 150.0, 300.0), (60, 150.0, 300.0)],
)
def test_backoff_doubles_up_to_the_cap_with_jitter(attempt, low, high):
    rng = random.Random(1)
    delays = [Backoff(base=2.0, cap=300.0).delay(attempt, rng) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    assert max(delays) - min(delays) > (high - low) / 2  # spread, not in step


class Recorder:
    """A login that waits until the test lets it finish, and records what was running."""

    def __init__(self, hold: bool = False):
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[int] = []
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.delivered: dict[int, object] = {}
        self.all_delivered = threading.Event()
        self.expect = 0

    def login(self, account_id, spec):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(account_id)
        self.release.wait(10)
        with self.lock:
            self.running -= 1
        return f"conn-{account_id}"

    def deliver(self, account_id, ticket, result, error):
        with self.lock:
            self.delivered[account_id] = result if error is None else error
            if len(self.delivered) >= self.expect:
                self.all_delivered.set()
        return True


def test_never_more_logins_in_flight_than_the_bound():
    rec = Recorder(hold=True)
    rec.expect = 12
    pool = LoginPool(rec.login, rec.deliver, in_flight=3, per_second=1000.0)
    for account_id in range(12):
        pool.submit(account_id, None)
    try:
        deadline = threading.Event()
        for _ in range(100):  # until three are running (the bound), then let them all finish
            if rec.running == 3:
                break
            deadline.wait(0.01)
        assert rec.running == 3
        rec.release.set()
        assert rec.all_delivered.wait(10)
        assert rec.most == 3
        assert rec.delivered == {i: f"conn-{i}" for i in range(12)}
    finally:
        pool.stop()


def test_logins_start_no_faster_than_the_pace():
    now = [0.0]
    rec = Recorder()
    rec.expect = 5
    pool = LoginPool(rec.login, rec.deliver, in_flight=4, per_second=2.0, monotonic=lambda: now[0])
    try:
        for account_id in range(5):
            pool.submit(account_id, None)
        assert _eventually(lambda: len(rec.started) == 1)
        # Time stands still: the pace allows no second login until the clock moves on.
        assert not _eventually(lambda: len(rec.started) > 1, seconds=0.3)
        now[0] = 0.5
        with pool._lock:
            pool._lock.notify_all()
        assert _eventually(lambda: len(rec.started) == 2)
        assert not _eventually(lambda: len(rec.started) > 2, seconds=0.3)
        pool.monotonic = time.monotonic  # the rest at the real pace (2 a second)
        with pool._lock:
            pool._lock.notify_all()
        assert rec.all_delivered.wait(10)
    finally:
        pool.stop()


def test_a_cancelled_or_superseded_login_is_closed_not_delivered():
    closed = []

    class Conn:
        def __init__(self, n):
            self.n = n

        def logout(self):
            closed.append(self.n)

    started, release = threading.Event(), threading.Event()
    delivered = []

    def login(account_id, spec):
        started.set()
        release.wait(10)
        return Conn(spec)

    pool = LoginPool(login, lambda a, t, r, e: delivered.append(r.n) or True, in_flight=1)
    try:
        pool.submit(1, "old")
        assert started.wait(10)
        pool.cancel(1)  # the account went away while its login was on the wire
        release.set()
        assert _eventually(lambda: closed == ["old"])
        assert delivered == []
    finally:
        pool.stop()


def _eventually(condition, seconds: float = 10.0) -> bool:
    """Poll a condition the pool's threads will make true (a deadline, not a fixed sleep)."""
    wait = threading.Event()
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        wait.wait(0.01)
    return condition()
