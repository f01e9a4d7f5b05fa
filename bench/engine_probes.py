"""Probes a bench puts on a live Engine through its public seams (instance attributes the loop
calls, the mailbox factory) and on its database: which passes run, when the engine is woken,
how many IDLE connections are up, when a follow-up stops. Used by bench/reply_latency_scale.py.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from watcher.engine import Engine
from watcher.mailbox import open_mailbox
from watcher.models import FollowUp, FollowUpState
from watcher.store import Store


class PassTimer:
    """Wraps an engine's run_pass (the loop calls it through the instance) to time each pass
    and to tell whether a full pass is running at a given moment."""

    def __init__(self, engine: Engine):
        self.full: list[tuple[float, float, int]] = []  # (start, end, accounts served)
        self.woken = 0
        self._full_since: float | None = None
        real = engine.run_pass

        def timed(*args, **kwargs):
            woken_only = kwargs.get("woken_only", args[0] if args else False)
            start = time.perf_counter()
            if not woken_only:
                self._full_since = start
            try:
                report = real(*args, **kwargs)
            finally:
                self._full_since = None
            if woken_only:
                self.woken += 1
            else:
                self.full.append((start, time.perf_counter(), getattr(report, "accounts", 0)))
            return report

        engine.run_pass = timed

    def in_full_pass(self) -> bool:
        return self._full_since is not None

    def long_passes(self) -> list[tuple[float, float, int]]:
        """Full passes that served at least one account (the others end in milliseconds)."""
        return [p for p in self.full if p[2]]


class WakeLog:
    """Wraps an engine's wake_account (IDLE news reaches the engine through it) to stamp each
    wake-up: the reply's latency splits into "the engine heard" and "the engine acted"."""

    def __init__(self, engine: Engine):
        self.stamps: dict[int, list[float]] = {}
        real = engine.wake_account

        def stamped(account_id, *args, **kwargs):
            self.stamps.setdefault(account_id, []).append(time.perf_counter())
            return real(account_id, *args, **kwargs)

        engine.wake_account = stamped

    def first_after(self, account_id: int, moment: float | None) -> float | None:
        if moment is None:
            return None
        return next((t for t in self.stamps.get(account_id, ()) if t >= moment), None)


class IdleCounter:
    """A mailbox factory that counts the IDLE connections handed to the multiplexer (each is
    logged in with INBOX selected; IDLE itself follows one round trip later)."""

    def __init__(self):
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, spec, config):
        mailbox = open_mailbox(spec, config)
        real = getattr(mailbox, "idle_connection", None)
        if real is not None:

            def idle_connection():
                conn = real()
                if conn is not None:
                    with self._lock:
                        self.count += 1
                return conn

            mailbox.idle_connection = idle_connection
        return mailbox


class StopWatch:
    """Polls the database (every 50 ms) for the delivered replies' follow-ups leaving
    "active", and stamps each when first seen."""

    def __init__(self, store: Store):
        self.store = store
        self._pending: dict[int, object] = {}  # follow-up id -> its target (gets .stopped)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stopwatch", daemon=True)
        self._thread.start()

    def watch(self, target) -> None:
        with self._lock:
            self._pending[target.followup_id] = target

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        self._done.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._done.wait(0.05):
            with self._lock:
                ids = list(self._pending)
            if not ids:
                continue
            with self.store.session() as s:
                stopped = s.scalars(
                    select(FollowUp.id).where(
                        FollowUp.id.in_(ids), FollowUp.state != FollowUpState.ACTIVE
                    )
                ).all()
            seen = time.perf_counter()
            with self._lock:
                for fid in stopped:
                    self._pending.pop(fid).stopped = seen
