"""Settings page latency vs a user's follow-ups: server time per page (Flask in-process, SQLite).

Each size gets a fresh instance with one signed-in user, one account and N follow-ups (each
with its "created" event), plus a second user with as many, so scoping is exercised. Every page
is fetched REPEAT times; the table shows the median (p50) and 99th percentile in milliseconds.
The row with no follow-ups is the baseline measured in the same run; the list is paged (50 a
page), so its time should stay near the baseline however many follow-ups there are.
Run: .venv/bin/python bench/settings_latency.py   (about 2 minutes)
"""

from __future__ import annotations

import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app
from tests.support.web import make_user, seed_followup, sign_in
from watcher import followups as fu_ops
from watcher.config import Config
from watcher.mailbox import MessageSummary
from watcher.schedule import parse_delay

SIZES = (0, 200, 5_000)
REPEAT = 100


def seed(app, user_id: int, email: str, count: int) -> int:
    """An account with `count` follow-ups; returns the id of one of them."""
    if count == 0:
        return 0
    store = app.extensions["replywatch"]["store"]
    account_id, first = seed_followup(app, user_id, email=email)
    now = datetime.now(UTC)
    with store.session() as s:
        account = store.find_account(s, str(account_id))
        for i in range(count - 1):
            anchor = MessageSummary(
                ref=f"Sent/1/{i + 2}",
                message_id=f"<bench-{account_id}-{i}@example.test>",
                subject=f"Message {i}",
                from_addr=email,
                to=("bob@example.test",),
                date=now,
                in_sent=True,
            )
            fu_ops.create_followup(
                store,
                s,
                account=account,
                anchor=anchor,
                stages=[fu_ops.StageSpec(delay=parse_delay("1w"))],
                now=now,
            )
    return first


def timed(client, path: str) -> list[float]:
    out = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        answer = client.get(path)
        out.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return out


def main() -> int:
    logging.disable(logging.WARNING)
    print(
        f"# settings page latency, {os.cpu_count()} cores, Python {platform.python_version()}, "
        "SQLite, Flask test client (server time only)"
    )
    print(f"# {REPEAT} requests per page; ms (p50 / p99)\n")
    header = (
        f"{'follow-ups':>10} | {'list':>13} | {'detail':>13} | {'accounts':>13} | {'defaults':>13}"
    )
    print(header)
    print("-" * len(header))
    for size in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            app = create_app(Config.for_instance(Path(tmp) / "instance"))
            me = make_user(app, "me@example.test")
            other = make_user(app, "other@example.test")
            first = seed(app, me, "me@example.test", size)
            seed(app, other, "other@example.test", size)
            client = sign_in(app, "me@example.test")
            pages = ["/settings/followups?show=all", "/settings/accounts", "/settings/defaults"]
            if first:
                pages.insert(1, f"/settings/followups/{first}")
            cells = []
            for path in pages:
                ms = sorted(timed(client, path))
                p99 = ms[int(len(ms) * 0.99) - 1]
                cells.append(f"{statistics.median(ms):5.1f} / {p99:5.1f}")
            if not first:
                cells.insert(1, "-")
            print(f"{size:>10} | " + " | ".join(f"{c:>13}" for c in cells))
            app.extensions["replywatch"]["store"].dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
