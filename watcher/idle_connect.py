"""Opening IDLE connections: blocking logins in a few threads, paced, retried with backoff.

A login is a handful of round trips (greeting, CAPABILITY, LOGIN, SELECT) that blocks its
thread, so it runs here, in a small pool, never in the multiplexer's thread. The pool paces
itself: at most `in_flight` logins at once and at most `per_second` started per second, so
1,000 accounts come up over a few minutes instead of as 1,000 simultaneous logins, which
servers refuse or rate-limit (Dovecot's stock limits time out about half of such a burst).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

SPARE_SECONDS = 10.0  # a login thread with nothing to do for this long ends (new ones start)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": attempt n (from 0) waits between half and all
    of min(cap, base * 2**n). Never near zero, so a server that drops every login is not
    hammered; never in step, so connections dropped together do not return together."""

    base: float = 2.0
    cap: float = 300.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        high = min(self.cap, self.base * 2 ** min(attempt, 32))
        return (rng or random).uniform(high / 2, high)


Login = Callable[[int, object], object]  # (account_id, spec) -> logged-in client or None
Deliver = Callable[[int, int, object, BaseException | None], bool]  # False: not taken


class LoginPool:
    """submit(account, spec, delay) -> after `delay` s, and when the pace allows, login() runs
    in one of the pool's threads and its result (or exception) goes to deliver(account_id,
    ticket, result, error), which returns whether it took the result. A newer submit or a
    cancel makes an older ticket stale: its result is closed, not delivered."""

    def __init__(
        self,
        login: Login,
        deliver: Deliver,
        *,
        in_flight: int = 4,
        per_second: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        if in_flight < 1 or per_second <= 0:
            raise ValueError("the login pool needs in_flight >= 1 and per_second > 0")
        self.login, self.deliver = login, deliver
        self.in_flight, self.per_second = in_flight, per_second
        self.monotonic = monotonic
        self._lock = threading.Condition()
        self._due: list[tuple[float, int, int]] = []  # heap of (when, ticket, account_id)
        self._tickets: dict[int, int] = {}  # account_id -> its current ticket
        self._specs: dict[int, object] = {}
        self._counter = itertools.count(1)
        self._next_start = 0.0
        self._threads: list[threading.Thread] = []
        self._stopped = False

    def submit(self, account_id: int, spec, delay: float = 0.0) -> int:
        with self._lock:
            if self._stopped:
                return 0
            ticket = next(self._counter)
            self._tickets[account_id] = ticket
            self._specs[account_id] = spec
            heapq.heappush(self._due, (self.monotonic() + delay, ticket, account_id))
            self._threads = [t for t in self._threads if t.is_alive()]
            if len(self._threads) < self.in_flight:  # threads start on demand, up to the bound
                thread = threading.Thread(target=self._work, name="idle-login", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._lock.notify()
            return ticket

    def cancel(self, account_id: int) -> None:
        with self._lock:
            self._tickets.pop(account_id, None)
            self._specs.pop(account_id, None)

    def current(self, account_id: int, ticket: int) -> bool:
        with self._lock:
            return self._tickets.get(account_id) == ticket

    def pending(self) -> int:
        """Logins waiting or running (for benches and tests)."""
        with self._lock:
            return len(self._tickets)

    def settle(self, account_id: int, ticket: int) -> bool:
        """The caller took this ticket's result: forget it unless a newer one replaced it."""
        with self._lock:
            if self._tickets.get(account_id) != ticket:
                return False
            del self._tickets[account_id]
            self._specs.pop(account_id, None)
            return True

    def stop(self, timeout: float = 2.0) -> None:
        """Stop starting logins; a login already on the wire ends on its own (its thread is a
        daemon and its result is closed), so stopping never waits for a slow server."""
        with self._lock:
            self._stopped = True
            self._tickets.clear()
            self._specs.clear()
            self._lock.notify_all()
            threads = list(self._threads)
        deadline = self.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - self.monotonic()))

    def _work(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            account_id, ticket, spec = job
            result, error = None, None
            try:
                result = self.login(account_id, spec)
            except Exception as e:  # a refused login or a dead server: the caller retries
                error = e
            if not self.current(account_id, ticket):
                _close(result)
                continue
            try:
                taken = self.deliver(account_id, ticket, result, error)
            except Exception:
                log.exception("account %s: handing over the IDLE connection failed", account_id)
                taken = False
            if not taken:
                _close(result)

    def _next_job(self) -> tuple[int, int, object] | None:
        with self._lock:
            while not self._stopped:
                while self._due and self._tickets.get(self._due[0][2]) != self._due[0][1]:
                    heapq.heappop(self._due)  # cancelled or superseded
                if not self._due:  # nothing planned: wait a while, then leave
                    if not self._lock.wait(SPARE_SECONDS) and not self._due:
                        self._threads.remove(threading.current_thread())
                        return None
                    continue
                now = self.monotonic()
                start = max(self._due[0][0], self._next_start)
                if start > now:
                    self._lock.wait(start - now)
                    continue
                _, ticket, account_id = heapq.heappop(self._due)
                self._next_start = max(now, self._next_start) + 1.0 / self.per_second
                return account_id, ticket, self._specs[account_id]
            return None


def _close(client) -> None:
    if client is not None:
        with contextlib.suppress(Exception):
            client.logout()
