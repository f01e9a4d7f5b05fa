"""Watcher processes for bench/many_accounts.py: today's Engine, driven pass by pass.

`Workers` (the driver side) starts P of these processes and drives them in step; `main` is
one of them.

Started by the benchmark with DATABASE_URL and REPLYWATCH_* in its environment (Config.from_env,
as `python -m watcher run` reads them), so any watcher setting (e.g. a future worker-pool size)
passes straight through. It prints {"ready": ...} once the engine is built, then for each "go"
line on stdin runs one pass (see run_pass) and prints one JSON line:

    seconds   wall time of the pass          cpu      process CPU seconds (every thread)
    accounts  accounts the pass checked      served   their ids
    faults    account faults                 fault_samples  up to 3 of their reasons
    steps     IMAP time per step, summed over the pass: {name: [seconds, count]}

The step times come from an ImapMailbox subclass hooking two of its seams (the socket opener
and the per-connection command counter, as bench/idle_pass.py does); if the engine stops
taking a mailbox_factory or those seams move, the pass is still measured, without steps.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from watcher.config import Config
from watcher.engine import Engine
from watcher.imap import ImapMailbox
from watcher.mailbox import open_mailbox
from watcher.store import Store

ROOT = Path(__file__).resolve().parents[1]

# From the TCP connect to the end of the CAPABILITY imaplib sends unasked; with implicit TLS
# the TLS handshake too. (STARTTLS's handshake falls outside any step: in "rest".)
CONNECT = "connect+greeting+CAPABILITY"


class StepTimes:
    """Seconds and counts per IMAP step, from any number of threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            entry = self._data[name]
            entry[0] += seconds
            entry[1] += 1

    def take(self) -> dict[str, list[float]]:
        with self._lock:
            data, self._data = dict(self._data), defaultdict(lambda: [0.0, 0])
        return data


STEPS = StepTimes()


class TimedImap(ImapMailbox):
    """ImapMailbox that times the connection's opening and each tagged command."""

    _connecting_at = 0.0

    def _open_socket(self, host, port, timeout):
        self._connecting_at = time.perf_counter()  # SMTP's sockets too, but unused for them
        return super()._open_socket(host, port, timeout)

    def _count_commands(self, conn) -> None:
        # Called right after the client is built: greeting and CAPABILITY are behind us.
        STEPS.add(CONNECT, time.perf_counter() - self._connecting_at)
        super()._count_commands(conn)
        imap = conn._imap
        command, complete = imap._command, imap._command_complete
        started: dict[str, float] = {}

        def timed_command(name, *args):
            start = time.perf_counter()
            tag = command(name, *args)
            started[tag] = start
            return tag

        def timed_complete(name, tag):
            try:
                return complete(name, tag)
            finally:
                if tag in started:
                    STEPS.add(name.upper(), time.perf_counter() - started.pop(tag))

        imap._command, imap._command_complete = timed_command, timed_complete


def mailbox_factory(spec, config):
    return TimedImap(spec, config) if spec.kind == "imap" else open_mailbox(spec, config)


def build_engine(config: Config, store: Store) -> tuple[Engine, bool]:
    """The Engine, with the timing mailbox if it still takes a mailbox_factory."""
    if "mailbox_factory" in inspect.signature(Engine).parameters:
        return Engine(store, config, mailbox_factory=mailbox_factory), True
    return Engine(store, config), False


# -- the driver side (bench/many_accounts.py) --------------------------------------------------


class Workers:
    """P bench/pass_worker.py processes, started together, driven pass by pass."""

    def __init__(self, count: int, env: dict[str, str], log_dir: Path):
        self.procs: list[subprocess.Popen] = []
        self.logs = []
        try:
            self._start(count, env, log_dir)
            self.timed = all(self._answer(i)["steps_timed"] for i in range(count))
        except BaseException:
            self.close()
            raise

    def _start(self, count: int, env: dict[str, str], log_dir: Path) -> None:
        for i in range(count):
            log = open(log_dir / f"worker-{i}.log", "w+")  # noqa: SIM115 (closed in close())
            self.logs.append(log)
            proc_env = {**env, "REPLYWATCH_WORKER_ID": f"bench-{i}"}
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, str(Path(__file__).resolve())],
                    cwd=ROOT,
                    env=proc_env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
            )

    def run_pass(self) -> tuple[float, list[dict]]:
        """Start one pass in every process at once; (wall seconds, their answers)."""
        start = time.perf_counter()
        for proc in self.procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        answers = [self._answer(i) for i in range(len(self.procs))]
        return time.perf_counter() - start, answers

    def _answer(self, i: int) -> dict:
        line = self.procs[i].stdout.readline()
        if not line:
            self.logs[i].seek(0)
            raise RuntimeError(f"watcher process {i} ended:\n{self.logs[i].read()[-3000:]}")
        return json.loads(line)

    def close(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(OSError):  # EOF on stdin: the process exits
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()


# -- the process itself ------------------------------------------------------------------------


def run_pass(engine: Engine):
    """One pass as `python -m watcher run` makes it (Engine.run_pass(respect_interval=True):
    accounts fresh from another watcher skipped, the account pool), or with
    BENCH_PASS_MODE=once as `python -m watcher once` and the watcher before the pool (every
    account, one after another)."""
    loop_mode = "respect_interval" in inspect.signature(engine.run_pass).parameters
    if os.environ.get("BENCH_PASS_MODE", "loop") == "once" or not loop_mode:
        return engine.run_pass()
    return engine.run_pass(respect_interval=True)


def main() -> int:
    logging.basicConfig(level=logging.CRITICAL)  # a fault is counted in the answer instead
    config = Config.from_env()
    store = Store.from_config(config)
    engine, timed = build_engine(config, store)
    print(json.dumps({"ready": config.worker_id, "steps_timed": timed}), flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        STEPS.take()
        cpu, start = time.process_time(), time.perf_counter()
        report = run_pass(engine)
        answer = {
            "seconds": time.perf_counter() - start,
            "cpu": time.process_time() - cpu,
            "accounts": report.accounts,
            "served": sorted(getattr(report, "served", ())),
            "faults": report.account_faults,
            "fault_samples": report.faults[:3],
            "steps": STEPS.take(),
        }
        print(json.dumps(answer), flush=True)
    engine.stop()
    store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
