"""Bumps per second at internet latency: the sequential watcher against the account pool.

The setup of bench/send_throughput.py (tests/e2e/test_crash_many_watchers.py's seed: N IMAP
accounts on Dovecot, B due bumps each, evidence by receipt copy; the SMTP sink delivers into
Dovecot), but the watcher reaches both Dovecot and the SMTP sink through
bench/latency_proxy.py, --delay-ms each way (default 40: an 80 ms round trip). The bench's own
seeding and the sink's deliveries go straight to the servers.

Two rows in one run, each on a fresh PostgreSQL database (tests/servers/postgres.py) with the
same plan, one Engine in this process, passes repeated until no follow-up is open:
  sequential  workers=1, engine.run_pass() (`once`'s pass: accounts one after another; the
              watcher before issue 23's pool)
  pool        workers=--workers (default 16), engine.run_pass(respect_interval=True) (`run`'s
              pass: batch claims, accounts served in parallel)
Pacing that only delays is off in both (send_jitter_minutes=0, max_bumps_per_minute=0, a long
overdue grace), as in send_throughput.py.

Per row: seconds, bumps/s, duplicates at the SMTP sink (same Message-ID accepted twice; must
be 0), bumps missing at the sink, SMTP connections per bump and IMAP connections per account
(counted at the proxies), the watcher process's CPU seconds, and the load average.

Run: .venv/bin/python bench/send_latency.py     (20 accounts x 5 bumps: about 4-5 minutes)
     .venv/bin/python bench/send_latency.py --accounts 10 --per-account 5 --workers 8
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

import tests.e2e.test_crash_many_watchers as crash
from bench.latency_proxy import LatencyProxy
from bench.scaled_dovecot import ScaledDovecot
from tests.servers.postgres import Postgres
from tests.servers.smtp import SmtpSink
from tests.servers.world import MailWorld
from watcher.compose import bump_message_id
from watcher.config import Config
from watcher.engine import Engine
from watcher.models import Account, FollowUp, FollowUpState
from watcher.store import Store


@dataclass
class Row:
    label: str
    seconds: float
    bumps: int
    duplicates: int
    missing: int
    smtp_connections: int
    imap_connections: int
    passes: int
    cpu: float
    load: float


def open_count(store: Store) -> int:
    with store.session() as s:
        return s.scalar(
            select(func.count()).select_from(FollowUp).where(FollowUp.state == FollowUpState.ACTIVE)
        )


def point_at_proxies(store: Store, imap_port: int, smtp_port: int) -> None:
    """Every account reaches IMAP and SMTP through the latency proxies."""
    with store.session() as s:
        for account in s.scalars(select(Account)):
            account.settings = {**account.settings, "imap_port": imap_port, "smtp_port": smtp_port}


def expected_bumps(store: Store) -> set[str]:
    """The Message-IDs of the planned bumps (stage 1 of every follow-up)."""
    with store.session() as s:
        rows = s.execute(select(FollowUp.token, Account.email).join(Account)).all()
    return {bump_message_id(token, 1, email) for token, email in rows}


def run_one(label, world, sink, pg, proxies, tmp: Path, workers: int, pool: bool) -> Row:
    imap_proxy, smtp_proxy = proxies
    config = Config.for_instance(
        tmp / label,
        database_url=pg.url(pg.create_database()),
        worker_id=f"bench-{label}",
        workers=workers,
        poll_interval=1.0,  # the pool's pass skips accounts checked within 3/4 of it
        overdue_grace_seconds=1e9,
        retry_wait_max=0.2,
        send_jitter_minutes=0,
        max_bumps_per_minute=0,
        allow_private_mail_hosts=True,  # the proxies listen on 127.0.0.1
    )
    store = Store.from_config(config)
    store.migrate()
    try:
        crash.seed(world, store, datetime.now(UTC))
        point_at_proxies(store, imap_proxy.port, smtp_proxy.port)
        planned = expected_bumps(store)
        engine = Engine(store, config)
        sink.clear()
        smtp0, imap0 = smtp_proxy.connections, imap_proxy.connections
        cpu0, start, passes = time.process_time(), time.perf_counter(), 0
        while open_count(store):
            engine.run_pass(respect_interval=pool)
            passes += 1
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        # A receipt copy is a Bcc in the bump's own envelope: one envelope per bump.
        accepted = Counter(m.message_id for m in sink.messages if m.message_id in planned)
        return Row(
            label=label,
            seconds=seconds,
            bumps=len(accepted),
            duplicates=sum(n - 1 for n in accepted.values()),
            missing=len(planned - set(accepted)),
            smtp_connections=smtp_proxy.connections - smtp0,
            imap_connections=imap_proxy.connections - imap0,
            passes=passes,
            cpu=cpu,
            load=os.getloadavg()[0],
        )
    finally:
        store.dispose()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--accounts", type=int, default=20)
    p.add_argument("--per-account", type=int, default=5)
    p.add_argument("--delay-ms", type=float, default=40.0, help="added each way (default 40)")
    p.add_argument("--workers", type=int, default=16, help="the pool's size (default 16)")
    args = p.parse_args(argv)
    crash.ACCOUNTS, crash.PER_ACCOUNT, crash.REPLIED_PER_ACCOUNT = (
        args.accounts,
        args.per_account,
        0,
    )
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"machine: {os.cpu_count()} cores (load average {load} at start), "
        f"Python {platform.python_version()}, Dovecot 2.3, PostgreSQL 15; "
        f"+{args.delay_ms:g} ms each way to IMAP and SMTP (round trip +{2 * args.delay_ms:g} ms)"
    )
    print(f"{args.accounts * args.per_account} due bumps over {args.accounts} accounts")
    rows: list[Row] = []
    with ExitStack() as stack:  # servers and directories go whatever happens
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="send-latency-")))
        dovecot = stack.enter_context(ScaledDovecot(clients=4 * args.accounts + 200))
        sink = stack.enter_context(SmtpSink(dovecot))
        imap_proxy = stack.enter_context(LatencyProxy(dovecot.host, dovecot.port, args.delay_ms))
        smtp_proxy = stack.enter_context(LatencyProxy(sink.host, sink.port, args.delay_ms))
        pg = stack.enter_context(Postgres())
        world = MailWorld(dovecot, sink)
        proxies = (imap_proxy, smtp_proxy)
        for label, workers, pool in (
            ("sequential", 1, False),
            (f"pool ({args.workers} workers)", args.workers, True),
        ):
            rows.append(run_one(label, world, sink, pg, proxies, tmp, workers, pool))
    head = (
        f"{'watcher':<20} {'seconds':>8} {'bumps':>6} {'bumps/s':>8} {'vs seq':>7} "
        f"{'dups':>5} {'missing':>7} {'smtp conn/bump':>14} {'imap conn/acct':>14} "
        f"{'passes':>6} {'cpu s':>6} {'load':>5}"
    )
    print(head)
    base = rows[0].bumps / rows[0].seconds if rows[0].seconds else 0.0
    for r in rows:
        rate = r.bumps / r.seconds if r.seconds else 0.0
        print(
            f"{r.label:<20} {r.seconds:>8.1f} {r.bumps:>6} {rate:>8.2f} "
            f"{rate / base if base else 0:>6.2f}x {r.duplicates:>5} {r.missing:>7} "
            f"{r.smtp_connections / max(r.bumps, 1):>14.2f} "
            f"{r.imap_connections / args.accounts:>14.2f} {r.passes:>6} {r.cpu:>6.1f} "
            f"{r.load:>5.2f}"
        )
    print(
        "dups = a Message-ID the sink accepted more than once; missing = planned bumps it never "
        "got; load = 1-minute load average at the row's end"
    )
    return 0 if not any(r.duplicates or r.missing for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
