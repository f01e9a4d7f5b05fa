"""IMAP IDLE at scale: N accounts on a real Dovecot, held by one watcher process (and by two).

Each configuration runs in a child process of its own, so its threads, RSS and CPU are its
own. Figures: threads, RSS, CPU while idle (process_time over a window, % of one core), time
until every connection is in IDLE, news latency (a message APPENDed to an account's INBOX ->
on_news for that account), and how long stop() takes.

  thread-per-account  the old IdleWatchers (a copy below): one thread + connection per account,
                      all logins at once; the baseline measured in the same run
  mux                 watcher.idle.IdleWatchers: one thread multiplexes every socket; logins
                      paced (REPLYWATCH_IMAP_IDLE_LOGINS_IN_FLIGHT / _PER_SECOND)
  mux, 2 processes    two watchers sharing the accounts through per-account claims (flock on
                      one file per account here; a PostgreSQL advisory lock in production)

Goals (issue 23): 1,000 accounts in one process, RSS <= 300 MB, CPU idle <= 5% of a core.
The bench's Dovecot raises its process/client limits (stock limits stop near 100 sessions).
--rtt-ms 80 puts the watchers' IMAP connections behind bench/latency_proxy.py (40 ms each way);
the bench's own deliveries go straight to Dovecot. Dovecot itself tells IDLE clients of a new
message about 0.5 s after it lands (it batches notifications), so that is the floor here.

Run: .venv/bin/python bench/idle_scale.py [--n 1000 --window 30 --per-second 10]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imapclient import IMAPClient

from bench.latency_proxy import LatencyProxy
from tests.servers.dovecot import Dovecot
from watcher.config import Config
from watcher.idle import IdleWatchers
from watcher.mailbox import AccountSpec, open_mailbox

DOMAIN = "example.test"
RAISED_LIMITS = """
default_process_limit = 4000
default_client_limit = 20000
service imap {
  service_count = 0
  client_limit = 50
  process_limit = 400
}
service imap-login {
  service_count = 0
  process_min_avail = 2
  client_limit = 5000
}
"""
GOAL_RSS_MB, GOAL_CPU = 300, 5.0


def login_name(i: int) -> str:
    return f"idle{i}@{DOMAIN}"


def spec_for(host: str, port: int, i: int) -> AccountSpec:
    settings = {
        "imap_host": host, "imap_port": port, "imap_security": "none",
        "imap_username": login_name(i), "smtp_host": host, "smtp_port": 0,
        "smtp_security": "none", "smtp_username": login_name(i), "save_sent": "auto",
    }  # fmt: skip
    secret = json.dumps({"imap_password": f"pw{i}", "smtp_password": f"pw{i}"})
    return AccountSpec(kind="imap", email=login_name(i), settings=settings, secret=secret)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class ThreadPerAccountIdle:
    """The IdleWatchers this replaces (watcher/idle.py before issue 23), kept as the baseline:
    one thread and one connection per account, IDLE checked every second."""

    def __init__(self, config, on_news, open_mailbox):
        self.config, self.on_news, self.open_mailbox = config, on_news, open_mailbox
        self._threads: dict[int, tuple[threading.Thread, threading.Event]] = {}

    def sync(self, accounts: dict[int, AccountSpec]) -> None:
        for account_id, spec in accounts.items():
            stop = threading.Event()
            thread = threading.Thread(target=self._watch, args=(account_id, spec, stop),
                                      daemon=True)  # fmt: skip
            self._threads[account_id] = (thread, stop)
            thread.start()

    def stop(self) -> None:
        for _, stop in self._threads.values():
            stop.set()
        for thread, _ in self._threads.values():
            thread.join(5)

    def _watch(self, account_id, spec, stop) -> None:
        while not stop.is_set():
            conn = None
            try:
                conn = self.open_mailbox(spec, self.config).idle_connection()
                while not stop.is_set():
                    conn.idle()
                    renew_at = time.monotonic() + 540
                    try:
                        while not stop.is_set() and time.monotonic() < renew_at:
                            responses = conn.idle_check(timeout=1.0)
                            if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                                self.on_news(account_id)
                    finally:
                        conn.idle_done()
            except Exception:
                stop.wait(60)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.logout()


# -- one configuration, in a child process ------------------------------------------------


def child(args) -> dict:
    logging.basicConfig(level=logging.WARNING)
    config = Config.for_instance(
        Path(tempfile.mkdtemp()), worker_id="bench", allow_private_mail_hosts=True,
        imap_timeout=60.0, imap_idle_logins_in_flight=args.in_flight,
        imap_idle_logins_per_second=args.per_second,
    )  # fmt: skip
    accounts = {i: spec_for(args.host, args.port, i) for i in range(1, args.n + 1)}
    told: dict[int, float] = {}
    told_cond = threading.Condition()
    up = [0]

    def on_news(account_id: int) -> None:
        with told_cond:
            told.setdefault(account_id, time.perf_counter())
            told_cond.notify_all()

    def counting(spec, cfg):  # for the baseline, which has no idling() count
        mailbox = open_mailbox(spec, cfg)
        real = mailbox.idle_connection

        def idle_connection():
            conn = real()
            up[0] += 1
            return conn

        mailbox.idle_connection = idle_connection
        return mailbox

    threads0, rss0 = threading.active_count(), rss_mb()
    if args.kind == "old":
        idle = ThreadPerAccountIdle(config, on_news, counting)
        watched = lambda: set(accounts)  # noqa: E731
        idling = lambda: up[0]  # noqa: E731
    else:
        claim = release = share = None
        if args.processes > 1:
            claim, release = flock_claims(args.claims)
            share = lambda n: -(-n // args.processes)  # noqa: E731
        idle = IdleWatchers(config, on_news, open_mailbox, claim=claim, release=release,
                            share=share)  # fmt: skip
        watched, idling = idle.watched, idle.idling
    started = time.perf_counter()
    idle.sync(accounts)
    mine = watched()
    # The baseline logs in all at once and retries a refused login only after 60 s.
    deadline = started + (min(args.up_timeout, 180.0) if args.kind == "old" else args.up_timeout)
    while idling() < len(mine) and time.perf_counter() < deadline:
        time.sleep(0.05)
    all_up = time.perf_counter() - started if idling() >= len(mine) else None
    time.sleep(2)  # the last IDLE commands answered
    cpu0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(args.window)
    cpu = 100 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    threads, rss = threading.active_count(), rss_mb()
    latencies = []
    for i in sorted(mine)[:: max(1, len(mine) // args.deliveries)][: args.deliveries]:
        with IMAPClient(args.host, args.deliver_port, ssl=False, timeout=30) as c:
            c.login(login_name(i), f"pw{i}")
            sent = time.perf_counter()
            c.append("INBOX", f"From: b@{DOMAIN}\r\nSubject: n{i}\r\n\r\nhi\r\n".encode())
        with told_cond:
            if told_cond.wait_for(lambda: i in told, 30):  # noqa: B023 (called right here)
                latencies.append(told[i] - sent)
    up_at_end = idling()
    stop0 = time.perf_counter()
    idle.stop()
    return {
        "watched": len(mine), "up": up_at_end, "all_up_s": all_up, "threads": threads - threads0,
        "rss_mb": rss, "rss_delta_mb": rss - rss0, "cpu_idle_pct": cpu,
        "news_median_s": statistics.median(latencies) if latencies else None,
        "news_max_s": max(latencies) if latencies else None,
        "news_seen": f"{len(latencies)}/{args.deliveries}",
        "stop_s": time.perf_counter() - stop0,
    }  # fmt: skip


def flock_claims(directory: str):
    """Per-account claims between processes: an exclusive flock on one file per account,
    freed by the kernel if the process dies (as PostgreSQL frees an advisory lock)."""
    held: dict[int, int] = {}

    def claim(account_id: int) -> bool:
        fd = os.open(os.path.join(directory, str(account_id)), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        held[account_id] = fd
        return True

    def release(account_id: int) -> None:
        fd = held.pop(account_id, None)
        if fd is not None:
            os.close(fd)

    return claim, release


# -- the parent: Dovecot, accounts, children, the table -------------------------------------


def run_children(args, dovecot: Dovecot, port: int, kind: str, processes: int) -> list[dict]:
    claims = tempfile.mkdtemp(prefix="idle-claims-")
    cmd = [
        sys.executable, __file__, "--child", kind, "--host", dovecot.host,
        "--port", str(port), "--deliver-port", str(dovecot.port), "--n", str(args.n),
        "--window", str(args.window),
        "--per-second", str(args.per_second), "--in-flight", str(args.in_flight),
        "--processes", str(processes), "--claims", claims,
        "--deliveries", str(args.deliveries), "--up-timeout", str(args.up_timeout),
    ]  # fmt: skip
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    results = []
    for p in procs:
        out, _ = p.communicate()
        lines = out.strip().splitlines()
        if p.returncode != 0 or not lines:
            raise RuntimeError(f"the {kind} child failed (exit {p.returncode})")
        results.append(json.loads(lines[-1]))
    return results


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--window", type=float, default=30.0, help="idle CPU window, s")
    parser.add_argument("--per-second", type=float, default=Config.imap_idle_logins_per_second)
    parser.add_argument("--in-flight", type=int, default=Config.imap_idle_logins_in_flight)
    parser.add_argument("--deliveries", type=int, default=20)
    parser.add_argument("--up-timeout", type=float, default=600.0)
    parser.add_argument("--skip-old", action="store_true", help="no thread-per-account run")
    parser.add_argument("--child", choices=("old", "mux"))
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--deliver-port", type=int)
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="added round trip, ms")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--claims")
    args = parser.parse_args()
    if args.child:
        args.kind = args.child
        print(json.dumps(child(args)))
        return 0
    users = {login_name(i): f"pw{i}" for i in range(1, args.n + 1)}
    dovecot = Dovecot(users)
    with open(dovecot.conf, "a") as f:
        f.write(RAISED_LIMITS)
    rows = []
    with dovecot, contextlib.ExitStack() as stack:  # stopped whatever happens
        port = dovecot.port
        if args.rtt_ms:
            proxy = LatencyProxy(dovecot.host, dovecot.port, delay_ms=args.rtt_ms / 2)
            port = stack.enter_context(proxy).port
        runs = [("thread-per-account", "old", 1)] if not args.skip_old else []
        runs += [("mux", "mux", 1), ("mux, 2 processes", "mux", 2)]
        for label, kind, processes in runs:
            for n, result in enumerate(run_children(args, dovecot, port, kind, processes), 1):
                rows.append((label if processes == 1 else f"{label} #{n}", result))
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, Dovecot 2.3, "
          f"RTT +{args.rtt_ms:g} ms; N = {args.n} accounts; logins: {args.in_flight} in flight, "
          f"{args.per_second:g}/s (mux); idle window {args.window:g} s")  # fmt: skip
    head = (f"{'how':<24} {'watched':>7} {'up':>5} {'all up s':>8} {'threads':>7} "
            f"{'RSS MB':>7} {'CPU idle %':>10} {'news med s':>10} {'news max s':>10} "
            f"{'seen':>6} {'stop s':>6}")  # fmt: skip
    print(head)
    for label, r in rows:
        print(f"{label:<24} {r['watched']:>7} {r['up']:>5} {fmt(r['all_up_s'], '.1f'):>8} "
              f"{r['threads']:>7} {r['rss_mb']:>7.0f} {r['cpu_idle_pct']:>10.2f} "
              f"{fmt(r['news_median_s'], '.3f'):>10} {fmt(r['news_max_s'], '.3f'):>10} "
              f"{r['news_seen']:>6} {r['stop_s']:>6.2f}")  # fmt: skip
    mux = next(r for label, r in rows if label == "mux")
    ok = (
        mux["up"] == args.n
        and mux["rss_mb"] <= GOAL_RSS_MB
        and mux["cpu_idle_pct"] <= GOAL_CPU
        and mux["news_seen"] == f"{args.deliveries}/{args.deliveries}"
    )
    print(f"goals (mux, 1 process: all {args.n} up, RSS <= {GOAL_RSS_MB} MB, CPU idle <= "
          f"{GOAL_CPU}% of a core, every delivery seen): {'met' if ok else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
