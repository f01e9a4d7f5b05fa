"""Idle passes over many IMAP accounts at internet latency: accounts per minute, logins per account.

A throwaway Dovecot (limits raised for N accounts, optionally with TLS) holds N mailboxes; the
watcher reaches it through bench/latency_proxy.py, which adds --delay-ms each way (default 40:
an 80 ms round trip). N IMAP accounts are added through the store (PostgreSQL 15 by default, or
SQLite), one warm-up pass on loopback speed takes every cursor's baseline, and then P watcher
processes (bench/pass_worker.py: today's Engine.run_pass, its settings from REPLYWATCH_* like
`python -m watcher run`) start one idle pass together. Between passes every account is made due
again, as if the poll interval had passed.

Per row: the pass's wall time; distinct accounts checked per minute (all processes together, and
per process: the "accounts per 60-s pass" figure); checks per account (an account checked by
every process counts P); IMAP logins per account (from Dovecot's log) and TCP connections per
account (at the proxy); watcher CPU per check (process CPU time of all workers / checks). With
P = 1, where the steps are timed, a per-check breakdown follows: ms per IMAP step, and the rest
(database, Python) as wall time per check minus the IMAP steps.

Watcher settings pass through: --set NAME=VALUE (a Config field, as REPLYWATCH_NAME), --workers N
(= --set workers=N, the account pool), and --variant LABEL:NAME=VALUE,... to measure several
settings side by side in one run (e.g. a baseline beside a change). pass_mode=once (not a Config
field) runs `once`'s pass instead of `run`'s: with workers=1 that is the watcher before issue 23
(every process checks every account), e.g. --variant base:workers=1,pass_mode=once
--variant pool:workers=32.
It ends with issue 23's goals, met or MISSED (exit status 1 if one is missed or a check failed).

Run: .venv/bin/python bench/many_accounts.py   (N=50 at 80 ms, 1/2/4 processes: about 3 minutes)
     .venv/bin/python bench/many_accounts.py --accounts 50,200 --security none,ssl --processes 1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, update

from bench.latency_proxy import LatencyProxy
from bench.pass_worker import Workers
from bench.scaled_dovecot import ScaledDovecot
from tests.servers.postgres import Postgres
from watcher.config import Config
from watcher.models import Account
from watcher.store import Store

LOGIN_LINE = "imap-login: Info: Login: user=<"
IMAP_STEPS = ("connect+greeting+CAPABILITY", "LOGIN", "LIST", "STATUS", "LOGOUT")
GOAL_DELAY_MS = 40.0  # issue 23's goals are set at an 80 ms round trip
GOAL_PER_PROCESS = 5_000  # idle accounts per watcher process per 60-s pass


@dataclasses.dataclass
class Row:
    accounts: int
    security: str
    variant: str
    processes: int
    pass_no: int
    wall: float
    distinct: int  # accounts checked by at least one process
    checks: int  # accounts checked, summed over the processes
    logins: int
    connections: int
    cpu: float  # watcher CPU seconds, all processes
    proxy_cpu: float  # this process's CPU (the proxy's event loop) during the pass
    faults: int
    fault_samples: list[str]
    steps: dict[str, list[float]]  # IMAP step -> [seconds, count], summed over the processes


# -- setting up -----------------------------------------------------------------------------


def populate(store: Store, dovecot: ScaledDovecot, n: int, port: int) -> None:
    """N users on Dovecot and N IMAP accounts in the store, reaching Dovecot at `port`."""
    now = datetime.now(UTC)
    with store.session() as s:
        for i in range(n):
            email = f"n{n}-{i:05d}@bench.test"
            dovecot.add_user(email, f"pw-{i}")
            settings, password = dovecot.imap_settings(email)
            settings.update(imap_port=port)
            user = store.get_or_create_user(s, email)
            secret = json.dumps({"imap_password": password, "smtp_password": password})
            store.add_account(
                s, user, kind="imap", email=email, settings=settings, secret=secret, now=now
            )


def point_accounts(store: Store, dovecot: ScaledDovecot, security: str, ports: dict) -> None:
    """Switch every account to `security` (none | ssl | starttls) through its proxy port."""
    with store.session() as s:
        for account in s.query(Account).all():
            settings, _ = dovecot.imap_settings(account.email, security=security)
            settings["imap_port"] = ports[security]
            account.settings = settings


def make_all_due(store: Store) -> None:
    """As if the poll interval had passed: every account due, no lease held."""
    with store.session() as s:
        s.execute(
            update(Account).values(
                next_check_at=None, last_ok_at=None, lease_owner=None, lease_until=None
            )
        )


def checked_accounts(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).where(Account.last_ok_at.is_not(None)))


# -- Dovecot's log --------------------------------------------------------------------------


def dovecot_logins(dovecot: ScaledDovecot, offset: int) -> int:
    """LOGIN lines in Dovecot's log after `offset`. Its log process writes a moment after the
    event, so read until the count stops changing."""
    last = -1
    for _ in range(20):
        with open(dovecot.log, errors="replace") as f:
            f.seek(offset)
            text = f.read()
        count = text.count(LOGIN_LINE)
        if count == last:
            break
        last = count
        time.sleep(0.1)
    return count


def log_size(dovecot: ScaledDovecot) -> int:
    return os.path.getsize(dovecot.log)


# -- measuring ------------------------------------------------------------------------------


@dataclasses.dataclass
class Setup:
    """What one N is measured on: the servers, the proxies in front of Dovecot, the store."""

    dovecot: ScaledDovecot
    proxies: list[LatencyProxy]
    store: Store
    env: dict[str, str]  # the watcher processes' environment
    log_dir: Path


def measure(
    setup: Setup, n: int, security: str, variant: str, procs: int, passes: int, due_each=True
):
    """P watcher processes, `passes` passes each (all accounts made due before each, or with
    `due_each` False before the first only)."""
    workers = Workers(procs, setup.env, setup.log_dir)
    try:
        for pass_no in range(1, passes + 1):
            if due_each or pass_no == 1:
                make_all_due(setup.store)
            offset = log_size(setup.dovecot)
            conns = sum(p.connections for p in setup.proxies)
            cpu = time.process_time()
            wall, answers = workers.run_pass()
            proxy_cpu = time.process_time() - cpu
            logins = dovecot_logins(setup.dovecot, offset)
            checks = sum(a["accounts"] for a in answers)
            served = set().union(*(a.get("served", ()) for a in answers))
            yield Row(
                accounts=n,
                security=security,
                variant=variant,
                processes=procs,
                pass_no=pass_no,
                wall=wall,
                distinct=len(served) if served else min(n, checks),
                checks=checks,
                logins=logins,
                connections=sum(p.connections for p in setup.proxies) - conns,
                cpu=sum(a["cpu"] for a in answers),
                proxy_cpu=proxy_cpu,
                faults=sum(a["faults"] for a in answers),
                fault_samples=[f for a in answers for f in a["fault_samples"]][:3],
                steps=merge_steps(a["steps"] for a in answers) if workers.timed else {},
            )
    finally:
        workers.close()


def merge_steps(all_steps) -> dict[str, list[float]]:
    merged: dict[str, list[float]] = {}
    for steps in all_steps:
        for name, (seconds, count) in steps.items():
            entry = merged.setdefault(name, [0.0, 0])
            entry[0] += seconds
            entry[1] += count
    return merged


# -- printing -------------------------------------------------------------------------------

HEAD = (
    f"{'N':>6} {'P':>2} {'imap tls':<8} {'wall s':>7} {'accts/min':>9} {'/proc/min':>9} "
    f"{'checks/acct':>11} {'logins/acct':>11} {'conns/acct':>10} {'cpu ms/chk':>10} "
    f"{'proxy cpu s':>11} {'faults':>6}"
)


def print_head(passes: bool, variants: bool) -> None:
    print(("variant    " if variants else "") + ("pass " if passes else "") + HEAD)


def print_row(r: Row, passes: bool, variants: bool) -> None:
    per_min = r.distinct / r.wall * 60 if r.wall else 0.0
    prefix = (f"{r.variant:<10} " if variants else "") + (f"{r.pass_no:>4} " if passes else "")
    print(
        f"{prefix}{r.accounts:>6,} {r.processes:>2} {r.security:<8} {r.wall:>7.1f} "
        f"{per_min:>9,.0f} {per_min / r.processes:>9,.0f} {r.checks / r.accounts:>11.2f} "
        f"{r.logins / r.accounts:>11.2f} {r.connections / r.accounts:>10.2f} "
        f"{r.cpu / max(r.checks, 1) * 1e3:>10.1f} {r.proxy_cpu:>11.1f} {r.faults:>6}",
        flush=True,
    )
    for fault in r.fault_samples:
        print(f"       fault: {fault}")


def print_breakdown(rows: list[Row]) -> None:
    """Per check at P = 1: where the time goes. With accounts served in parallel the IMAP
    steps overlap, so their sum exceeds the wall time per check and `rest` goes negative."""
    timed = [r for r in rows if r.steps and r.processes == 1 and r.checks]
    if not timed:
        return
    print("\nPer check, P = 1, ms (IMAP steps timed in the watcher; rest = database and Python)")
    labels = {IMAP_STEPS[0]: "connect*", **{s: s for s in IMAP_STEPS[1:]}}
    names = [*IMAP_STEPS, "other IMAP", "rest", "total"]
    head = " ".join(f"{labels.get(n, n):>10}" for n in names)
    print(f"{'variant':<10} {'N':>6} {'imap tls':<8} {'pass':>4} {head}")
    for r in timed:
        ms = {name: r.steps.get(name, [0.0, 0])[0] / r.checks * 1e3 for name in IMAP_STEPS}
        other = sum(sec for name, (sec, _) in r.steps.items() if name not in IMAP_STEPS)
        ms["other IMAP"] = other / r.checks * 1e3
        ms["total"] = r.wall / r.checks * 1e3
        ms["rest"] = ms["total"] - sum(v for k, v in ms.items() if k != "total")
        cells = " ".join(f"{ms[n]:>10.1f}" for n in names)
        print(f"{r.variant or '-':<10} {r.accounts:>6,} {r.security:<8} {r.pass_no:>4} {cells}")
    first = timed[0]
    counts = {labels.get(k, k): n / first.checks for k, (_, n) in sorted(first.steps.items())}
    print(
        "  commands per check (first row): " + ", ".join(f"{k} x{v:.1f}" for k, v in counts.items())
    )
    print("  connect* = TCP connect + greeting + CAPABILITY (+ the TLS handshake with ssl)")


def check_goals(rows: list[Row], delay_ms: float) -> list[str]:
    """Issue 23's goals: >= 5,000 idle accounts per process per 60-s pass at an 80 ms round
    trip, and with several processes each account checked (and logged in to) once a pass."""
    missed = []
    if delay_ms == GOAL_DELAY_MS:
        for r in rows:
            per_proc = r.distinct / r.wall * 60 / r.processes
            if per_proc < GOAL_PER_PROCESS:
                missed.append(f"N={r.accounts} P={r.processes}: {per_proc:,.0f}/min/process")
    for r in rows:
        if r.processes > 1 and max(r.checks, r.logins) > r.accounts:
            missed.append(
                f"N={r.accounts} P={r.processes}: {r.checks / r.accounts:.2f} checks and "
                f"{r.logins / r.accounts:.2f} logins per account"
            )
    goals = (
        f"goals: >= {GOAL_PER_PROCESS:,} accounts/min/process at +{GOAL_DELAY_MS:g} ms each way"
        f"{'' if delay_ms == GOAL_DELAY_MS else ' (not checked at this delay)'}; "
        "<= 1 check and 1 login per account per pass with P > 1: "
    )
    print("\n" + goals + ("met" if not missed else "MISSED"))
    for line in missed[:8]:
        print(f"  {line}")
    return missed


def machine_line(args) -> str:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    dovecot = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    version = dovecot.stdout.split()
    db = "PostgreSQL 15 (throwaway cluster)" if args.db == "postgres" else "SQLite"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} cores (load average {load} at start), "
        f"{platform.machine()}, Python {platform.python_version()}, "
        f"Dovecot {version[0] if version else '?'} and {db} on "
        f"127.0.0.1; +{args.delay_ms:g} ms each way through bench/latency_proxy.py "
        f"(round trip +{2 * args.delay_ms:g} ms)"
    )


# -- the run --------------------------------------------------------------------------------


def prepare(args, dovecot, proxies, ports, pg, tmp: Path, n: int, base_env) -> Setup:
    """A fresh database with N accounts whose cursors have their baseline (a first pass run
    at loopback speed: it is not an idle pass, and at 80 ms it would double the run)."""
    instance = tmp / f"n{n}"
    overrides = {"database_url": pg.url(pg.create_database())} if pg else {}
    config = Config.for_instance(instance, **overrides)
    store = Store.from_config(config)
    store.migrate()
    populate(store, dovecot, n, ports["none"])
    env = {
        **base_env,
        "DATABASE_URL": config.database_url,
        "REPLYWATCH_INSTANCE_DIR": str(instance),
    }
    log_dir = tmp / f"logs-{n}"
    log_dir.mkdir()
    setup = Setup(dovecot, proxies, store, env, log_dir)
    for proxy in proxies:
        proxy.delay_ms = 0
    wall = checks = faults = passes = 0
    try:
        # A loop pass stops claiming after a poll interval: with many accounts the baselines
        # take several passes, each going on with the accounts not checked yet.
        for warm in measure(setup, n, "none", "warm-up", 1, 10, due_each=False):
            wall, checks, faults = wall + warm.wall, checks + warm.checks, faults + warm.faults
            passes += 1
            if checked_accounts(store) >= n:
                break
    finally:
        for proxy in proxies:
            proxy.delay_ms = args.delay_ms
    print(
        f"N={n:,}: first checks (cursor baselines) on loopback, no delay: {wall:.1f} s in "
        f"{passes} pass(es), {checks} checked, {faults} faults"
    )
    return setup


def settings_env(pairs: list[str]) -> dict[str, str]:
    """NAME=VALUE (a Config field) -> {"REPLYWATCH_NAME": VALUE}; warns of unknown names,
    which today's Config ignores (e.g. a pool size before the pool exists)."""
    known = {f.name for f in dataclasses.fields(Config)}
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().lower().removeprefix("replywatch_")
        if not sep or not name:
            raise SystemExit(f"expected NAME=VALUE, not {pair!r}")
        if name == "pass_mode":  # loop (run's passes, the default) or once: pass_worker.run_pass
            env["BENCH_PASS_MODE"] = value
            continue
        if name not in known:
            print(f"note: Config has no field {name!r}: today's watcher ignores it")
        env[f"REPLYWATCH_{name.upper()}"] = value
    return env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x]

    def securities(text: str) -> list[str]:
        values = [x for x in text.split(",") if x]
        if not values or set(values) - {"none", "ssl", "starttls"}:
            raise argparse.ArgumentTypeError("a list of none, ssl, starttls")
        return values

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--accounts", type=ints, default=[50], help="N, a list (default 50)")
    p.add_argument("--delay-ms", type=float, default=40.0, help="added each way (default 40)")
    p.add_argument("--processes", type=ints, default=[1, 2, 4], help="P, a list (default 1,2,4)")
    p.add_argument(
        "--security",
        type=securities,
        default=["none"],
        help="IMAP security, a list of none, ssl (implicit TLS), starttls (default none)",
    )
    p.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    p.add_argument("--passes", type=int, default=1, help="passes per process (default 1)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--workers", type=int, help="shortcut for --set workers=N")
    p.add_argument("--variant", action="append", default=[], metavar="LABEL:NAME=VALUE,...")
    p.add_argument("--quick", action="store_true", help="N=20, P=1,2 (a smoke run)")
    args = p.parse_args(argv)
    if args.quick:
        args.accounts, args.processes = [20], [1, 2]
    if args.db == "sqlite" and max(args.processes) > 1:
        p.error("several watcher processes need --db postgres (SQLite serializes writers)")
    if args.workers is not None:
        args.set.append(f"workers={args.workers}")
    return args


def parse_variants(specs: list[str]) -> list[tuple[str, dict[str, str]]]:
    variants = []
    for spec in specs:
        label, sep, pairs = spec.partition(":")
        if not sep:
            raise SystemExit(f"expected LABEL:NAME=VALUE,..., not {spec!r}")
        variants.append((label, settings_env([x for x in pairs.split(",") if x])))
    return variants or [("", {})]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    print(machine_line(args))
    base_env = {
        **os.environ,
        "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS": "1",  # the proxy listens on 127.0.0.1
        "REPLYWATCH_IMAP_IDLE": "0",  # passes only (run_pass holds no IDLE; this is for later)
        **settings_env(args.set),
    }
    variants = parse_variants(args.variant)
    tls = any(sec != "none" for sec in args.security)
    rows: list[Row] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="many-") as tmp:
        clients = max(args.accounts) * max(args.processes) + 100
        dovecot = stack.enter_context(ScaledDovecot(clients=clients, tls=tls))
        plain = stack.enter_context(LatencyProxy(dovecot.host, dovecot.port, args.delay_ms))
        proxies, ports = [plain], {"none": plain.port, "starttls": plain.port}
        if tls:
            base_env["SSL_CERT_FILE"] = dovecot.cert_path  # trust the throwaway certificate
            implicit = LatencyProxy(dovecot.host, dovecot.tls_port, args.delay_ms)
            proxies.append(stack.enter_context(implicit))
            ports["ssl"] = implicit.port
        pg = stack.enter_context(Postgres()) if args.db == "postgres" else None
        for n in args.accounts:
            setup = prepare(args, dovecot, proxies, ports, pg, Path(tmp), n, base_env)
            print_head(args.passes > 1, len(variants) > 1)
            env = setup.env
            for security in args.security:
                point_accounts(setup.store, dovecot, security, ports)
                for label, overrides in variants:
                    setup.env = {**env, **overrides}
                    for procs in args.processes:
                        for row in measure(setup, n, security, label, procs, args.passes):
                            print_row(row, args.passes > 1, len(variants) > 1)
                            rows.append(row)
            setup.store.dispose()
    print_breakdown(rows)
    missed = check_goals(rows, args.delay_ms)
    return 1 if missed or any(r.faults for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
