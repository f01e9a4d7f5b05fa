"""Idle pass cost vs tracked follow-ups, on a real Dovecot: IMAP commands and wall time.

Replywatch's pass asks the mailbox what changed (STATUS per watched folder) and looks up only
the threads that changed; the baseline is a naive watcher that re-reads every tracked thread
each pass. Run: .venv/bin/python bench/idle_pass.py
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpSink
from tests.servers.world import MailWorld
from tests.support.seed import seed_tracked_followups
from watcher.config import Config
from watcher.engine import Engine
from watcher.mailbox import ThreadKey, open_mailbox
from watcher.store import Store

SIZES = (10, 1_000, 10_000)
NAIVE_SIZES = (10, 1_000)  # the naive baseline is linear; 10,000 would take minutes


def measure(world: MailWorld, tracked: int, naive: bool) -> tuple[int, float]:
    alice, bob = world.new_user("alice"), world.new_user("bob")
    for i in range(5):
        world.send(alice, [bob], f"m{i}", "x")
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        config = Config.for_instance(Path(tmp), worker_id="bench", retry_wait_max=0.0)
        store = Store.from_config(config)
        store.migrate()
        spec = world.account_spec(alice)
        with store.session() as s:
            user = store.get_or_create_user(s, alice.email)
            account = store.add_account(
                s,
                user,
                kind="imap",
                email=alice.email,
                settings=dict(spec.settings),
                secret=spec.secret,
                now=now,
            )
            ids = (account.id, user.id)
        seed_tracked_followups(store, *ids, tracked, now)
        opened = []

        def factory(spec, cfg):
            opened.append(open_mailbox(spec, cfg))
            return opened[-1]

        engine = Engine(store, config, clock=lambda: now, mailbox_factory=factory)
        engine.run_pass()  # baseline cursor
        start = time.perf_counter()
        if naive:
            with open_mailbox(spec, config) as mailbox:
                for i in range(tracked):
                    anchor = f"<seed-{ids[0]}-{i}@example.test>"
                    mailbox.thread(ThreadKey(frozenset([anchor])))
                commands = mailbox.commands
        else:
            engine.run_pass()
            commands = opened[-1].commands
        elapsed = time.perf_counter() - start
        store.dispose()
    return commands, elapsed


def main() -> int:
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-session chatter
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, SQLite, Dovecot")
    head = ("tracked", "replywatch cmds", "time ms", "naive cmds", "time ms")
    print("{:>8} | {:>15} {:>8} | {:>10} {:>8}".format(*head))
    with Dovecot() as dovecot, SmtpSink(dovecot) as sink:
        world = MailWorld(dovecot, sink)
        results = {}
        for n in SIZES:
            ours = measure(world, n, naive=False)
            base = measure(world, n, naive=True) if n in NAIVE_SIZES else None
            results[n] = ours
            naive_txt = f"{base[0]:>10} {base[1] * 1000:>8.0f}" if base else f"{'-':>10} {'-':>8}"
            print(f"{n:>8} | {ours[0]:>15} {ours[1] * 1000:>8.0f} | {naive_txt}")
    ratio = results[SIZES[-1]][0] / results[SIZES[0]][0]
    print(f"IMAP commands at {SIZES[-1]:,} / at {SIZES[0]}: {ratio:.2f} (goal <= 1.2)")
    return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
