"""What a /metrics scrape and the daily send cap cost as the database grows.

1. One scrape (watcher.metrics.exposition: the registry plus the two grouped COUNT queries of
   follow-ups by state and accounts by status), median of 21, with 0 follow-ups (baseline),
   10,000 and 100,000 stored in SQLite. Goal: <= 50 ms at 100,000.
2. The send cap's count of today's sends (watcher.send_caps.status), median of 201, with 1,000
   sent today and no history (baseline), then with 99,000 more over the 99 days before. Goal:
   <= 2x the baseline (it must not grow with history).

Run: .venv/bin/python bench/metrics_scrape.py
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from bench.memory_and_claims import NOW, account, bulk_followups
from watcher import metrics, send_caps
from watcher.config import Config
from watcher.models import Account
from watcher.store import Store

GOAL_SCRAPE_MS = 50
GOAL_CAP_RATIO = 2.0


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def bulk_sends(store: Store, account_id: int, days: range) -> None:
    """1,000 sends on each of these days back from today."""
    with store.engine.begin() as conn:
        rows = [
            {
                "aid": account_id,
                "mid": f"<rw.bench-{day}-{i}@example.test>",
                "at": (NOW - timedelta(days=day, seconds=i)).replace(tzinfo=None),
            }
            for day in days
            for i in range(1000)
        ]
        conn.execute(
            text(
                "INSERT INTO send_records (account_id, message_id, kind, at)"
                " VALUES (:aid, :mid, 'bump', :at)"
            ),
            rows,
        )


def main() -> int:
    rows, missed = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        config = Config.for_instance(Path(tmp) / "i", worker_id="bench")
        store = Store.from_config(config)
        store.migrate()
        account_id, _ = account(store, None, "scrape")
        stored = 0
        for size in (0, 10_000, 100_000):
            more = account(store, None, f"scrape{size}")  # its own tokens
            bulk_followups(store, *more, size - stored, due_now=0)
            stored = size
            ms = median_ms(lambda: metrics.exposition(store), 21)
            rows.append(("scrape", f"{size:,} follow-ups", ms))
        scrape_at_max = rows[-1][2]
        missed += scrape_at_max > GOAL_SCRAPE_MS

        def count():
            with store.session() as s:
                send_caps.status(s, s.get(Account, account_id), NOW)

        bulk_sends(store, account_id, range(1))
        base = median_ms(count, 201)
        rows.append(("send cap count", "1,000 sent today, no history", base))
        bulk_sends(store, account_id, range(1, 100))
        big = median_ms(count, 201)
        rows.append(("send cap count", "1,000 today + 99,000 over 99 days", big))
        missed += big > GOAL_CAP_RATIO * base
        store.dispose()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, SQLite")
    print("| what | stored | ms (median) |\n|---|---|---:|")
    for what, stored_text, ms in rows:
        print(f"| {what} | {stored_text} | {ms:.2f} |")
    scrape_ok = "met" if scrape_at_max <= GOAL_SCRAPE_MS else "MISSED"
    cap_ok = "met" if big <= GOAL_CAP_RATIO * base else "MISSED"
    print(
        f"goals: scrape <= {GOAL_SCRAPE_MS} ms at 100,000 follow-ups: {scrape_ok}; "
        f"send cap count <= {GOAL_CAP_RATIO}x with 99,000 days-old sends: {cap_ok}"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
