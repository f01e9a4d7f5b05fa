"""Idle pass cost vs tracked follow-ups: IMAP on a real Dovecot, Gmail on the API emulator.

An idle pass is one where nothing changed in the mailbox. Replywatch's pass asks the mailbox
what changed (IMAP: STATUS per watched folder; Gmail: users.getProfile's historyId) and reads
only the threads that changed, so its cost should not grow with the number of tracked threads.
The baseline beside it is a naive watcher that re-reads every tracked thread each pass (IMAP:
a SEARCH per thread in Sent and INBOX; Gmail: a threads.get per thread).

Figures per size: IMAP commands, bytes read from the server, wall time; Gmail API calls, quota
units, wall time. Wall time is the median of PASSES passes. Goal: every figure at 10,000 tracked
threads <= 1.2 x the same figure at 10; exit status 1 if any is missed.

Run: .venv/bin/python bench/idle_pass.py   (about a minute)
"""

from __future__ import annotations

import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.emulators import GoogleEmulators
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpSink
from tests.servers.world import MailWorld
from tests.support.seed import seed_tracked_followups
from watcher.config import Config
from watcher.engine import Engine
from watcher.imap import ImapMailbox
from watcher.mailbox import AccountSpec, ThreadKey, open_mailbox
from watcher.store import Store

SIZES = (10, 1_000, 10_000)
NAIVE_SIZES = (10, 1_000)  # the naive baseline is linear; 10,000 would take minutes
PASSES = 9
GOAL = 1.2


class CountingImap(ImapMailbox):
    """ImapMailbox that also counts the bytes it reads from the server."""

    bytes_read = 0

    def _count_commands(self, conn) -> None:
        super()._count_commands(conn)
        imap = conn._imap
        read, readline = imap.read, imap.readline

        def counting_read(size):
            data = read(size)
            self.bytes_read += len(data)
            return data

        def counting_readline():
            line = readline()
            self.bytes_read += len(line)
            return line

        imap.read, imap.readline = counting_read, counting_readline


def new_store(tmp: str, **overrides) -> tuple[Config, Store]:
    config = Config.for_instance(
        Path(tmp), worker_id="bench", retry_wait_max=0.0, allow_private_mail_hosts=True, **overrides
    )
    store = Store.from_config(config)
    store.migrate()
    return config, store


def add_account(store: Store, spec: AccountSpec, now: datetime) -> tuple[int, int]:
    with store.session() as s:
        user = store.get_or_create_user(s, spec.email)
        account = store.add_account(
            s,
            user,
            kind=spec.kind,
            email=spec.email,
            settings=dict(spec.settings),
            secret=spec.secret,
            now=now,
        )
        return account.id, user.id


def timed_passes(engine: Engine, after_each: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(PASSES):
        start = time.perf_counter()
        engine.run_pass()
        times.append(time.perf_counter() - start)
        after_each()
    return statistics.median(times)


def imap_row(world: MailWorld, tracked: int) -> dict:
    alice, bob = world.new_user("alice"), world.new_user("bob")
    for i in range(5):
        world.send(alice, [bob], f"m{i}", "x")
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        config, store = new_store(tmp)
        spec = world.account_spec(alice)
        ids = add_account(store, spec, now)
        seed_tracked_followups(store, *ids, tracked, now)
        opened: list[CountingImap] = []

        def factory(spec, cfg):
            opened.append(CountingImap(spec, cfg))
            return opened[-1]

        engine = Engine(store, config, clock=lambda: now, mailbox_factory=factory)
        engine.run_pass()  # baseline cursor, first thread reads
        seconds = timed_passes(engine)
        row = {"cmds": opened[-1].commands, "bytes": opened[-1].bytes_read, "ms": seconds * 1e3}
        store.dispose()
    return row


def imap_naive(world: MailWorld, tracked: int) -> dict:
    alice, bob = world.new_user("alice"), world.new_user("bob")
    for i in range(5):
        world.send(alice, [bob], f"m{i}", "x")
    with tempfile.TemporaryDirectory() as tmp:
        config = Config.for_instance(
            Path(tmp), worker_id="bench", retry_wait_max=0.0, allow_private_mail_hosts=True
        )
        start = time.perf_counter()
        with CountingImap(world.account_spec(alice), config) as mailbox:
            for i in range(tracked):
                mailbox.thread(ThreadKey(frozenset([f"<seed-{i}@example.test>"])))
            row = {"cmds": mailbox.commands, "bytes": mailbox.bytes_read}
        row["ms"] = (time.perf_counter() - start) * 1e3
    return row


def gmail_row(google: GoogleEmulators, tracked: int) -> dict:
    alice = google.new_user("alice")
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        config, store = new_store(tmp, **google.config_overrides())
        ids = add_account(store, google.account_spec(alice), now)
        seed_tracked_followups(store, *ids, tracked, now)
        engine = Engine(store, config, clock=lambda: now)
        engine.run_pass()  # baseline cursor, access token, first thread reads
        google.gmail.reset_quota()
        engine.run_pass()
        row = {
            "calls": sum(google.gmail.calls(alice.email).values()),
            "units": google.gmail.units(alice.email),
        }
        row["ms"] = timed_passes(engine) * 1e3
        store.dispose()
    return row


def gmail_naive(google: GoogleEmulators, tracked: int) -> dict:
    alice, bob = google.new_user("alice"), google.new_user("bob")
    mid = google.send(alice, [bob], "A thread", "Shall we?")
    thread_ref = google.gmail.find(alice.email, mid)[0].thread_id
    with tempfile.TemporaryDirectory() as tmp:
        config = Config.for_instance(Path(tmp), retry_wait_max=0.0, **google.config_overrides())
        with open_mailbox(google.account_spec(alice), config) as mailbox:
            mailbox.check()  # access token
            google.gmail.reset_quota()
            start = time.perf_counter()
            for _ in range(tracked):
                mailbox.thread(ThreadKey(frozenset([mid]), thread_ref=thread_ref))
            seconds = time.perf_counter() - start
    return {
        "calls": sum(google.gmail.calls(alice.email).values()),
        "units": google.gmail.units(alice.email),
        "ms": seconds * 1e3,
    }


def table(title: str, keys: tuple[str, ...], ours: dict, naive: dict) -> list[str]:
    """Print one table; return the goals missed."""
    print(f"\n{title}")
    head = " ".join(f"{k:>9}" for k in keys)
    print(f"{'tracked':>8} | {head} | naive: {head}")
    for n in SIZES:
        mine = " ".join(_fmt(ours[n][k]) for k in keys)
        base = " ".join(_fmt(naive[n][k]) if n in naive else f"{'-':>9}" for k in keys)
        print(f"{n:>8,} | {mine} |        {base}")
    missed = []
    for k in keys:
        ratio = ours[SIZES[-1]][k] / ours[SIZES[0]][k]
        ok = ratio <= GOAL
        print(f"  {k} at {SIZES[-1]:,} / at {SIZES[0]}: {ratio:.2f}  {'ok' if ok else 'MISSED'}")
        if not ok:
            missed.append(f"{title}: {k} {ratio:.2f}")
    return missed


def _fmt(value: float) -> str:
    return f"{value:>9.1f}" if isinstance(value, float) else f"{value:>9,}"


def main() -> int:
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-session chatter
    logging.basicConfig(level=logging.ERROR)
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, SQLite, "
        f"Dovecot and the Gmail API emulator on 127.0.0.1; wall time = median of {PASSES} passes"
    )
    with Dovecot() as dovecot, SmtpSink(dovecot) as sink:
        world = MailWorld(dovecot, sink)
        imap = {n: imap_row(world, n) for n in SIZES}
        imap_base = {n: imap_naive(world, n) for n in NAIVE_SIZES}
    google = GoogleEmulators().start()
    google.gmail.user_rate_limit = None
    try:
        gmail = {n: gmail_row(google, n) for n in SIZES}
        gmail_base = {n: gmail_naive(google, n) for n in NAIVE_SIZES}
    finally:
        google.stop()
    missed = table("IMAP, one idle pass", ("cmds", "bytes", "ms"), imap, imap_base)
    missed += table("Gmail API, one idle pass", ("calls", "units", "ms"), gmail, gmail_base)
    print(f"\ngoal: cost at {SIZES[-1]:,} <= {GOAL} x cost at {SIZES[0]}: ", end="")
    print("met" if not missed else f"MISSED ({'; '.join(missed)})")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
