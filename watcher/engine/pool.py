"""Accounts in parallel inside one watcher: a bounded pool of account workers fed by batch
claims.

One dispatcher (the pass's thread) claims accounts in one statement for the idle workers and a
few more (a short queue: a claim per account was a third of a check's CPU at 1,000 accounts),
and hands each to a worker; a worker serves its account under the account's lease
and returns a PassReport of its own, merged here when it is done, so no counter is shared
between threads. Exactly once is kept by the leases, not by the pool: an account is leased to
one worker, a due follow-up to one worker (Engine._act_on_due claims it with its own lease).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from .shared import PassReport

Claim = Callable[[int], list[int]]  # up to n account ids, leased to this watcher
Serve = Callable[[int], PassReport]  # one leased account served (and released)
Release = Callable[[int], None]  # give back the lease of a claimed account not served


def serve_accounts(
    claim: Claim,
    serve: Serve,
    workers: int,
    stopping: threading.Event,
    news: Callable[[], bool] = lambda: False,
    release: Release = lambda account_id: None,
) -> PassReport:
    """Claim and serve accounts until none is due (or stop() was called: the accounts in hand
    are finished, no more are taken, the queued ones are released). `news`: an account was
    woken since the last claim, so claim again even after a claim came back short; what such
    a claim brings goes to the head of the queue (the claim puts woken accounts first)."""
    report = PassReport()
    if workers <= 1:  # no threads: the pass runs where it is called, as before the pool
        while not stopping.is_set():
            ids = claim(1)
            if not ids:
                break
            report.merge(serve(ids[0]))
        return report
    spare = max(1, workers // 4)  # claimed ahead; leased, so no other watcher takes them
    queue: deque[int] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="account") as pool:
        running: set[Future[PassReport]] = set()
        more = True
        try:
            while True:
                free = workers - len(running)
                if free > 0 and not stopping.is_set():
                    woken = news()
                    if woken or (more and len(queue) < free):
                        want = max(1, free + spare - len(queue))
                        ids = claim(want)
                        more = len(ids) == want  # fewer than asked: nothing else is due now
                        if woken:
                            queue.extendleft(reversed(ids))
                        else:
                            queue.extend(ids)
                    while queue and len(running) < workers:
                        running.add(pool.submit(serve, queue.popleft()))
                if not running:
                    return report
                # Not blocked on a slow account: a wake-up is claimed within a quarter second.
                done, running = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    report.merge(future.result())
        finally:
            for account_id in queue:  # stopped (or failed) with accounts claimed, not served
                release(account_id)
