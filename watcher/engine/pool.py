"""Accounts in parallel inside one watcher: a bounded pool of account workers fed by batch
claims.

One dispatcher (the pass's thread) claims as many accounts as there are idle workers, in one
statement, and hands each to a worker; a worker serves its account under the account's lease
and returns a PassReport of its own, merged here when it is done, so no counter is shared
between threads. Exactly once is kept by the leases, not by the pool: an account is leased to
one worker, a due follow-up to one worker (Engine._act_on_due claims it with its own lease).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from .shared import PassReport

Claim = Callable[[int], list[int]]  # up to n account ids, leased to this watcher
Serve = Callable[[int], PassReport]  # one leased account served (and released)


def serve_accounts(
    claim: Claim,
    serve: Serve,
    workers: int,
    stopping: threading.Event,
    news: Callable[[], bool] = lambda: False,
) -> PassReport:
    """Claim and serve accounts until none is due (or stop() was called: the accounts in hand
    are finished, no more are taken). `news`: an account was woken since the last claim, so
    claim again even after a claim came back short."""
    report = PassReport()
    if workers <= 1:  # no threads: the pass runs where it is called, as before the pool
        while not stopping.is_set():
            ids = claim(1)
            if not ids:
                break
            report.merge(serve(ids[0]))
        return report
    with ThreadPoolExecutor(workers, thread_name_prefix="account") as pool:
        running: set[Future[PassReport]] = set()
        more = True
        while True:
            free = workers - len(running)
            if (more or news()) and free > 0 and not stopping.is_set():
                ids = claim(free)
                more = len(ids) == free  # fewer than asked: nothing else is due now
                running |= {pool.submit(serve, account_id) for account_id in ids}
            if not running:
                return report
            # Not blocked on a slow account: a wake-up is claimed within a quarter second.
            done, running = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
            for future in done:
                report.merge(future.result())
