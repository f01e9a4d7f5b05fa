"""Kept sessions: an account's logged-in IMAP mailbox re-used pass after pass.

A fresh check logs in every pass: at an 80 ms round trip, connect + greeting + CAPABILITY,
LOGIN, LIST and LOGOUT are about 510 of its 780 ms (bench/many_accounts.py). A kept session
spends one NOOP (proving it alive) before the two STATUS of an idle check.

The rules:
- a mailbox is in the hands of one account worker at a time (the account's lease); it is
  given back only after a clean check, and a check that failed closes it;
- a session unused for `keep_seconds` is logged out: the default 300 s stays under the idle
  timeouts of common NAT gateways (AWS's is 350 s) and far under the 30 minutes a server must
  allow (RFC 3501 5.4), and an account checked every minute keeps its session;
- at most `max_open` sessions per process, the least recently used logged out first;
- an account whose settings, password or aliases changed gets a new session: sessions are
  keyed by a fingerprint of the AccountSpec (and of the mailbox factory, which tests swap).

Only mailboxes that say `keeps_session` (IMAP) are kept; Gmail's API client holds no session.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..mailbox import AccountSpec

log = logging.getLogger(__package__)


def fingerprint(spec: AccountSpec, factory: Callable[..., Any]) -> str:
    """Everything a session depends on; a digest, so the password is not kept in the key."""
    parts = [
        spec.kind,
        spec.email,
        dict(spec.settings),
        spec.secret,
        list(spec.aliases),
        spec.trigger_folders,
        f"{getattr(factory, '__module__', '')}.{getattr(factory, '__qualname__', '')}",
        id(factory),
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class _Idle:
    mailbox: Any
    fingerprint: str
    since: float  # monotonic seconds when it was given back


class KeptMailboxes:
    def __init__(
        self,
        keep_seconds: float,
        max_open: int,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.keep_seconds = keep_seconds
        self.max_open = max_open
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._idle: OrderedDict[int, _Idle] = OrderedDict()  # oldest first
        self._out = 0  # sessions in a worker's hands now

    def __len__(self) -> int:
        """Sessions open: kept between passes plus those in use."""
        with self._lock:
            return len(self._idle) + self._out

    def kept_ids(self) -> list[int]:
        """The accounts whose sessions wait for their next check (the claim prefers them)."""
        with self._lock:
            return list(self._idle)

    def take(self, account_id: int, print_: str) -> Any | None:
        """The account's kept mailbox, resumed, or None (none kept, expired, or changed)."""
        with self._lock:
            entry = self._idle.pop(account_id, None)
            usable = entry is not None and entry.fingerprint == print_ and not self._expired(entry)
            if usable:
                self._out += 1
        if entry is None:
            return None
        if not usable:
            _close(entry.mailbox)
            return None
        entry.mailbox.resume()
        return entry.mailbox

    def give_back(self, account_id: int, print_: str, mailbox: Any, *, taken: bool) -> None:
        """Keep a mailbox after a clean check (`taken`: it came from take(), not made new)."""
        mailbox.pause()
        with self._lock:
            if taken:
                self._out -= 1
            stale = self._idle.pop(account_id, None)  # two sessions for one account: keep one
            self._idle[account_id] = _Idle(mailbox, print_, self.monotonic())
            evicted = self._evict_locked()
        for entry in ([stale] if stale else []) + evicted:
            _close(entry.mailbox)

    def discard(self, mailbox: Any, *, taken: bool) -> None:
        """Close a mailbox whose check failed: its session may be broken."""
        if taken:
            with self._lock:
                self._out -= 1
        _close(mailbox)

    def close_idle(self) -> int:
        """Log out the sessions unused for keep_seconds; how many were closed."""
        with self._lock:
            expired = [k for k, e in self._idle.items() if self._expired(e)]
            entries = [self._idle.pop(k) for k in expired]
        for entry in entries:
            _close(entry.mailbox)
        return len(entries)

    def close_all(self) -> None:
        with self._lock:
            entries, self._idle = list(self._idle.values()), OrderedDict()
        for entry in entries:
            _close(entry.mailbox)

    def _expired(self, entry: _Idle) -> bool:
        return self.monotonic() - entry.since >= self.keep_seconds

    def _evict_locked(self) -> list[_Idle]:
        evicted = []
        while self._idle and len(self._idle) + self._out > self.max_open:
            evicted.append(self._idle.popitem(last=False)[1])
        return evicted


def _close(mailbox: Any) -> None:
    with contextlib.suppress(Exception):  # LOGOUT of a session we no longer want
        mailbox.close()
