"""Send throughput: 1,000 due bumps over 100 IMAP accounts, on real Dovecot + SMTP servers.

One watcher on SQLite (in-process), then 1 / 2 / 4 `python -m watcher run` processes sharing one
PostgreSQL. Duplicates are counted at the SMTP server (must be 0). The baseline is the same work
done by one watcher on SQLite in the same run.

Run: .venv/bin/python bench/send_throughput.py [--accounts 100 --per-account 10]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

import tests.e2e.test_crash_many_watchers as crash
from tests.servers.dovecot import Dovecot
from tests.servers.postgres import Postgres
from tests.servers.smtp import SmtpSink
from tests.servers.world import MailWorld
from watcher.config import Config
from watcher.engine import Engine
from watcher.models import FollowUp, FollowUpState
from watcher.store import Store

ROOT = Path(__file__).resolve().parents[1]


def open_count(store: Store) -> int:
    with store.session() as s:
        return s.scalar(
            select(func.count()).select_from(FollowUp).where(FollowUp.state == FollowUpState.ACTIVE)
        )


def run_sqlite(world: MailWorld, tmp: Path) -> tuple[float, int]:
    # Raw throughput: no human-looking jitter and no per-account cap (they only delay).
    config = Config.for_instance(
        tmp / "sqlite",
        worker_id="bench",
        overdue_grace_seconds=1e9,
        retry_wait_max=0,
        send_jitter_minutes=0,
        max_bumps_per_minute=0,
        allow_private_mail_hosts=True,  # Dovecot and the sink listen on 127.0.0.1
    )
    store = Store.from_config(config)
    store.migrate()
    now = datetime.now(UTC)
    plan = crash.seed(world, store, now)
    engine = Engine(store, config, clock=lambda: now + timedelta(minutes=2))
    start = time.perf_counter()
    while open_count(store):
        engine.run_pass()
    elapsed = time.perf_counter() - start
    store.dispose()
    return elapsed, len(plan)


def run_postgres(world: MailWorld, pg: Postgres, tmp: Path, watchers: int) -> tuple[float, int]:
    url = pg.url(pg.create_database())
    config = Config.for_instance(
        tmp / f"pg{watchers}",
        database_url=url,
        send_jitter_minutes=0,
        max_bumps_per_minute=0,
        allow_private_mail_hosts=True,
    )
    store = Store(url, config.encryption_keys)
    store.migrate()
    now = datetime.now(UTC) - timedelta(minutes=2)  # the processes use the wall clock
    plan = crash.seed(world, store, now)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REPLYWATCH_INSTANCE_DIR": str(config.instance_dir),
        "REPLYWATCH_POLL_INTERVAL": "0.2",
        "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS": "1",  # the bench's mail servers are local
        "REPLYWATCH_OVERDUE_GRACE_SECONDS": "1000000",
        "REPLYWATCH_SEND_JITTER_MINUTES": "0",
        "REPLYWATCH_MAX_BUMPS_PER_MINUTE": "0",
    }
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "watcher", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(watchers)
    ]
    try:
        while open_count(store):
            time.sleep(0.1)  # the bench's own polling pace
        elapsed = time.perf_counter() - start
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)
    store.dispose()
    return elapsed, len(plan)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--per-account", type=int, default=10)
    args = parser.parse_args()
    crash.ACCOUNTS, crash.PER_ACCOUNT, crash.REPLIED_PER_ACCOUNT = (
        args.accounts,
        args.per_account,
        0,
    )
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, Dovecot 2.3")
    print(f"{args.accounts * args.per_account} due bumps over {args.accounts} accounts")
    print(f"{'setup':<22} {'seconds':>8} {'bumps/s':>8} {'vs base':>8} {'duplicates':>10}")
    rows = []
    with (
        Dovecot() as dovecot,
        SmtpSink(dovecot) as sink,
        Postgres() as pg,
        tempfile.TemporaryDirectory() as tmp,
    ):
        world = MailWorld(dovecot, sink)
        runs = [("1 watcher, SQLite", lambda: run_sqlite(world, Path(tmp)))]
        for n in (1, 2, 4):
            label = f"{n} watcher{'s' if n > 1 else ''}, PostgreSQL"
            runs.append((label, lambda n=n: run_postgres(world, pg, Path(tmp), n)))
        base = None
        for label, run in runs:
            sink.clear()
            elapsed, bumps = run()
            dup = sum(n - 1 for n in Counter(m.message_id for m in sink.messages).values() if n > 1)
            rate = bumps / elapsed
            base = base or rate
            rows.append(dup)
            print(f"{label:<22} {elapsed:>8.1f} {rate:>8.1f} {rate / base:>7.2f}x {dup:>10}")
    return 0 if not any(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
