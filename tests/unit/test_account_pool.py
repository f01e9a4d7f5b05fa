"""The account pool's dispatcher (watcher.engine.pool): batch claims with a short queue, woken
accounts ahead of the queue, and queued accounts given back when the pass stops."""

from __future__ import annotations

import threading

from watcher.engine.pool import serve_accounts
from watcher.engine.shared import PassReport


class Due:
    """A stand-in for the claim statement: leases up to n of the due ids, woken ones first."""

    def __init__(self, ids):
        self.due = list(ids)
        self.woken: list[int] = []
        self.claims: list[int] = []  # how many each claim asked for
        self.lock = threading.Lock()

    def claim(self, n: int) -> list[int]:
        with self.lock:
            self.claims.append(n)
            order = self.woken + [i for i in self.due if i not in self.woken]
            taken = order[:n]
            self.due = [i for i in self.due if i not in taken]
            self.woken = [i for i in self.woken if i not in taken]
            return taken

    def wake(self, account_id: int) -> None:
        with self.lock:
            self.due.append(account_id)
            self.woken.append(account_id)

    def news(self) -> bool:
        with self.lock:
            return bool(self.woken)


def served_report(account_id: int) -> PassReport:
    report = PassReport()
    report.accounts = 1
    report.served.add(account_id)
    return report


def test_every_due_account_is_served_once_with_fewer_claims_than_accounts():
    due = Due(range(1, 201))
    report = serve_accounts(due.claim, served_report, 8, threading.Event(), due.news)
    assert report.accounts == 200
    assert report.served == set(range(1, 201))
    # A claim fills the idle workers and a quarter of the pool ahead, not one per account.
    assert len(due.claims) < 200 / 2
    assert max(due.claims) == 8 + 2


def test_stopping_gives_back_the_queued_accounts_and_takes_no_more():
    due = Due(range(1, 101))
    stopping = threading.Event()
    released: list[int] = []
    served: list[int] = []
    lock = threading.Lock()

    def serve(account_id: int) -> PassReport:
        with lock:
            served.append(account_id)
            if len(served) == 3:
                stopping.set()  # SIGTERM while the first accounts are served
        return served_report(account_id)

    serve_accounts(due.claim, serve, 4, stopping, due.news, released.append)
    claimed = set(range(1, 101)) - set(due.due)
    # Every claimed account was served or released, none both; the rest were never claimed.
    assert set(served) | set(released) == claimed
    assert not set(served) & set(released)
    assert released, "the queue held accounts claimed ahead when the pass stopped"
    assert len(claimed) < 100


def test_a_woken_account_goes_ahead_of_the_queue():
    due = Due(range(1, 41))
    order: list[int] = []
    claimed_99 = threading.Event()

    def serve(account_id: int) -> PassReport:
        order.append(account_id)
        if account_id == 1:
            due.wake(99)  # while account 3 waits in the queue
        if account_id == 2:
            assert claimed_99.wait(5)  # the other worker stays busy until 99 is claimed
        return served_report(account_id)

    def claim(n: int) -> list[int]:
        ids = due.claim(n)
        if 99 in ids:
            claimed_99.set()
        return ids

    serve_accounts(claim, serve, 2, threading.Event(), due.news)
    assert order.index(99) < order.index(3)
    assert sorted(order) == sorted([*range(1, 41), 99])


def test_one_worker_claims_one_at_a_time_as_before_the_pool():
    due = Due(range(1, 6))
    report = serve_accounts(due.claim, served_report, 1, threading.Event(), due.news)
    assert report.served == set(range(1, 6))
    assert due.claims == [1, 1, 1, 1, 1, 1]
