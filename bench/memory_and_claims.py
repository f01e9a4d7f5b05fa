"""Memory with many stored follow-ups, and claim_due on a large PostgreSQL table.

1. Watcher RSS after an idle pass over one IMAP account (real Dovecot) with 100,000 follow-ups
   stored in SQLite; baseline: the same process before any follow-up exists. Goal <= 150 MB.
2. claim_due time with 1,000,000 follow-up rows on PostgreSQL (most of them not due), against
   1,000 rows as the baseline, and the plan PostgreSQL chooses (it must use an index).

Run: .venv/bin/python bench/memory_and_claims.py
"""

from __future__ import annotations

import logging
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from tests.servers.dovecot import Dovecot
from tests.servers.postgres import Postgres
from tests.servers.smtp import SmtpSink
from tests.servers.world import MailWorld
from watcher.config import Config
from watcher.engine import Engine
from watcher.store import Store

GOAL_RSS_MB = 150
NOW = datetime.now(UTC).replace(microsecond=0)


def rss_mb() -> float:
    """Current resident set size (Linux /proc), in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bulk_followups(store: Store, account_id: int, user_id: int, count: int, due_now: int) -> None:
    """Insert `count` active follow-ups fast (one statement per 10,000); `due_now` are due."""
    later, past = NOW + timedelta(days=7), NOW - timedelta(minutes=1)
    with store.engine.begin() as conn:
        for start in range(0, count, 10_000):
            rows = [
                {
                    "token": f"b{account_id}x{i}",
                    "uid": user_id,
                    "aid": account_id,
                    "mid": f"<bench-{account_id}-{i}@example.test>",
                    "due": (past if i < due_now else later).replace(tzinfo=None),
                    "now": NOW.replace(tzinfo=None),
                }
                for i in range(start, min(count, start + 10_000))
            ]
            conn.execute(
                text(
                    "INSERT INTO followups (token, user_id, account_id, anchor_message_id,"
                    " anchor_at, subject, to_addrs, cc_addrs, recipient_name, mode, state,"
                    " current_stage, due_at, clock_base_at, needs_check, replier_policy,"
                    " stop_reason, created_at, updated_at) VALUES (:token, :uid, :aid, :mid,"
                    " :now, 's', '[]', '[]', '', 'send', 'active', 1, :due, :now, false,"
                    " 'anyone', '', :now, :now)"
                ),
                rows,
            )


def account(store: Store, world: MailWorld | None, name: str) -> tuple[int, int]:
    with store.session() as s:
        if world is not None:
            user = world.new_user(name)
            spec = world.account_spec(user)
            email, settings, secret = user.email, dict(spec.settings), spec.secret
        else:
            email, settings, secret = f"{name}@example.test", {}, "x"
        owner = store.get_or_create_user(s, email)
        acc = store.add_account(
            s, owner, kind="imap", email=email, settings=settings, secret=secret, now=NOW
        )
        return acc.id, owner.id


def memory(world: MailWorld, tmp: Path) -> tuple[float, float]:
    config = Config.for_instance(
        tmp / "mem", worker_id="bench", imap_idle=False, allow_private_mail_hosts=True
    )
    store = Store.from_config(config)
    store.migrate()
    ids = account(store, world, "mem")
    engine = Engine(store, config, clock=lambda: NOW)
    engine.run_pass()
    before = rss_mb()
    bulk_followups(store, *ids, 100_000, due_now=0)
    engine.run_pass()
    engine.run_pass()
    after = rss_mb()
    store.dispose()
    return before, after


def claim_times(store: Store, runs: int = 30) -> tuple[float, float]:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        got = store.claim_due(f"bench-{i}", NOW, timedelta(minutes=5), 1)
        times.append((time.perf_counter() - start) * 1000)
        assert got, "nothing to claim"
    return statistics.median(times), max(times)


def claims(pg: Postgres) -> tuple[tuple[float, float], tuple[float, float], str]:
    results = []
    plan = ""
    for size in (1_000, 1_000_000):
        url = pg.url(pg.create_database())
        store = Store(url, Config.for_instance(Path(tempfile.mkdtemp())).encryption_keys)
        store.migrate()
        ids = account(store, None, f"claims{size}")
        bulk_followups(store, *ids, size, due_now=100)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE followups")
            rows = conn.exec_driver_sql(
                "EXPLAIN SELECT id FROM followups WHERE state = 'active' AND due_at <= now()"
                " AND (lease_until IS NULL OR lease_until < now())"
                " ORDER BY due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
            ).all()
        plan = "\n".join("    " + r[0] for r in rows)
        results.append(claim_times(store))
        store.dispose()
    return results[0], results[1], plan


def main() -> int:
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    with (
        Dovecot() as dovecot,
        SmtpSink(dovecot) as sink,
        Postgres() as pg,
        tempfile.TemporaryDirectory() as tmp,
    ):
        before, after = memory(MailWorld(dovecot, sink), Path(tmp))
        print(f"watcher RSS, SQLite: {before:.0f} MB with no follow-ups (baseline), "
              f"{after:.0f} MB with 100,000 stored (goal <= {GOAL_RSS_MB} MB)")  # fmt: skip
        small, large, plan = claims(pg)
        print("claim_due on PostgreSQL (one follow-up, FOR UPDATE SKIP LOCKED):")
        print(f"  {'rows':>9} {'median ms':>10} {'max ms':>8}")
        print(f"  {1_000:>9,} {small[0]:>10.2f} {small[1]:>8.2f}")
        print(f"  {1_000_000:>9,} {large[0]:>10.2f} {large[1]:>8.2f}   "
              f"({large[0] / small[0]:.2f}x the 1,000-row median)")  # fmt: skip
        print("  plan with 1,000,000 rows:")
        print(plan)
    ok = after <= GOAL_RSS_MB and "Index" in plan
    print("goals:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
