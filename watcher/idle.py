"""IMAP IDLE (RFC 2177): new mail in an INBOX wakes the watcher at once instead of at the next
poll. Polling stays the safety net, so a dropped connection only costs latency.

Threads, whatever the number of accounts:
  idle-mux     holds every IDLE socket (selectors), renews IDLE every ~9 minutes, before
               servers (Gmail at about 10) drop it            -> idle_mux.py, idle_protocol.py
  idle-login   up to `imap_idle_logins_in_flight` blocking logins, paced per second; a dropped
               or refused connection comes back after exponential backoff with jitter
                                                              -> idle_connect.py
  idle-news    calls on_news (which may write to the database) off the socket thread

Ownership across watcher processes: given `claim(account_id) -> bool` / `release(account_id)`
(e.g. a PostgreSQL advisory lock per account) and `share(n) -> int` (how many of n accounts
this process should hold), each process watches only the accounts it claimed, up to its share,
and gives back the surplus when more processes come, so IDLE spreads instead of one process
holding every connection. Without them this process watches every account it is given.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from .idle_connect import Backoff, LoginPool
from .idle_mux import Multiplexer
from .mailbox import AccountSpec

log = logging.getLogger(__name__)

RENEW_SECONDS = 9 * 60
ANSWER_SECONDS = 60.0  # a DONE or IDLE the server leaves unanswered this long: a dead line
HEALTHY_SECONDS = 120.0  # a connection that lived this long resets its account's backoff
NO_IDLE_RETRY_SECONDS = 3600.0  # a server without IDLE is asked again after this long


class IdleWatchers:
    def __init__(
        self,
        config,
        on_news: Callable[[int], None],
        open_mailbox: Callable,
        *,
        claim: Callable[[int], bool] | None = None,
        release: Callable[[int], None] | None = None,
        share: Callable[[int], int] | None = None,
        backoff: Backoff | None = None,
        renew_seconds: float = RENEW_SECONDS,
        answer_seconds: float = ANSWER_SECONDS,
        rng: random.Random | None = None,
    ):
        self.config = config
        self.open_mailbox = open_mailbox
        self.claim, self.release, self.share = claim, release, share
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()
        self._lock = threading.RLock()
        self._watched: dict[int, AccountSpec] = {}  # claimed by this process, (being) connected
        self._attempts: dict[int, int] = {}  # failed connections in a row, per account
        self._stopped = False
        self._news = _NewsDesk(on_news)
        self._renew_seconds, self._answer_seconds = renew_seconds, answer_seconds
        self._mux = self._new_mux()
        self._logins = LoginPool(
            self._login,
            self._connected,
            in_flight=getattr(config, "imap_idle_logins_in_flight", 4),
            per_second=getattr(config, "imap_idle_logins_per_second", 10.0),
        )
        self._started = False

    # -- the engine's interface ----------------------------------------------------------

    def sync(self, accounts: dict[int, AccountSpec]) -> None:
        """Watch these IMAP accounts (those this process claims, up to its share): start new
        ones, stop gone or changed ones."""
        with self._lock:
            if self._stopped:
                return
            if not self._started:
                self._news.start()
                self._mux.start()
                self._started = True
            elif not self._mux.alive():  # a bug ended it (logged there): start afresh
                log.error("the IDLE multiplexer died; reconnecting %d accounts", len(self._watched))
                self._mux.discard_pending()
                self._mux = self._new_mux().start()
                for account_id, spec in self._watched.items():
                    self._logins.submit(account_id, spec)
            for account_id in list(self._watched):
                if accounts.get(account_id) != self._watched[account_id]:
                    self._forget(account_id)
            limit = len(accounts) if self.share is None else max(0, self.share(len(accounts)))
            for account_id, spec in accounts.items():
                if len(self._watched) >= limit:
                    break
                if account_id in self._watched:
                    continue
                if self.claim is not None and not self.claim(account_id):
                    continue  # another process watches it
                self._watched[account_id] = spec
                self._logins.submit(account_id, spec)
            for account_id in list(self._watched)[limit:]:  # more processes now: give back
                self._forget(account_id)

    def stop(self) -> None:
        """Close every connection and end the threads; quick, whatever a server does."""
        with self._lock:
            self._stopped = True
            watched, self._watched = list(self._watched), {}
        self._logins.stop()
        self._mux.stop()
        self._news.stop()
        for account_id in watched:
            self._release(account_id)

    # -- for tests and benches -----------------------------------------------------------

    def watched(self) -> set[int]:
        with self._lock:
            return set(self._watched)

    def idling(self) -> int:
        """Connections in IDLE right now."""
        return self._mux.idling()

    # -- behind the scenes ---------------------------------------------------------------

    def _new_mux(self) -> Multiplexer:
        return Multiplexer(
            self._news.post,
            self._dropped,
            renew_seconds=self._renew_seconds,
            answer_seconds=self._answer_seconds,
            rng=self.rng,
        )

    def _forget(self, account_id: int) -> None:
        del self._watched[account_id]
        self._attempts.pop(account_id, None)
        self._logins.cancel(account_id)
        self._mux.remove(account_id)
        self._release(account_id)

    def _release(self, account_id: int) -> None:
        if self.release is not None:
            try:
                self.release(account_id)
            except Exception:  # the lock dies with its connection anyway
                log.warning("account %s: releasing the IDLE claim failed", account_id)

    def _login(self, account_id: int, spec: AccountSpec):
        """In a login thread: a logged-in connection with INBOX selected, or None (no IDLE)."""
        return self.open_mailbox(spec, self.config).idle_connection()

    def _connected(self, account_id: int, ticket: int, client, error) -> bool:
        """In a login thread: hand the connection to the multiplexer, or plan the next try.
        False: no longer wanted (the pool closes it)."""
        with self._lock:
            spec = self._watched.get(account_id)
            if not self._logins.settle(account_id, ticket) or self._stopped or spec is None:
                return False
            if error is not None:
                self._retry(account_id, spec, f"login failed ({error})")
            elif client is None:
                log.info("account %s: the server has no IDLE; polling only", account_id)
                self._logins.submit(account_id, spec, NO_IDLE_RETRY_SECONDS)
            else:
                self._mux.add(account_id, client)
            return True

    def _dropped(self, account_id: int, reason: str, lived: float) -> None:
        """In the multiplexer thread: a connection died; reconnect after a backoff."""
        with self._lock:
            spec = self._watched.get(account_id)
            if self._stopped or spec is None:
                return
            if lived >= HEALTHY_SECONDS:
                self._attempts.pop(account_id, None)
            self._retry(account_id, spec, reason)

    def _retry(self, account_id: int, spec: AccountSpec, reason: str) -> None:
        attempt = self._attempts.get(account_id, 0)
        self._attempts[account_id] = attempt + 1
        delay = self.backoff.delay(attempt, self.rng)
        log.info("account %s: IDLE stopped (%s); reconnecting in %.0fs", account_id, reason, delay)
        self._logins.submit(account_id, spec, delay)


class _NewsDesk:
    """on_news runs in a thread of its own: the engine's handler may write to the database
    (a NOTIFY to the other watchers) and the socket thread must never wait on that. News for
    an account already waiting to be told is told once."""

    def __init__(self, on_news: Callable[[int], None]):
        self.on_news = on_news
        self._pending: dict[int, None] = {}  # an ordered set: first come, first told
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="idle-news", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def post(self, account_id: int) -> None:
        with self._cond:
            self._pending[account_id] = None
            self._cond.notify()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                account_id = next(iter(self._pending))
                del self._pending[account_id]
            try:
                self.on_news(account_id)
            except Exception:  # a hint only: polling stays the safety net
                log.exception("account %s: telling of IDLE news failed", account_id)
