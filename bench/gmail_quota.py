"""Gmail API quota units used by the watcher, counted by the Gmail emulator (tests/emulators).

Figures:
  1. one idle pass with 10 and with 1,000 tracked threads (bench/idle_pass.py has 10,000);
  2. one follow-up's whole life: created with the CLI, 14 days of passes every minute on the
     injected clock, one bump sent after a week of silence.

The life's total is mostly the account's polling, which every account pays with or without
follow-ups (one users.getProfile per pass when nothing changed, measured in figure 1). What the
follow-up itself costs is the total minus that polling; the goal is on that: at most GOAL units.
Baseline beside it, measured in the same run: a watcher that polls the thread with threads.get
every pass (the life then costs that per pass plus the same creation and send).
Exit status 1 if the goal is missed.

Run: .venv/bin/python bench/gmail_quota.py [--days 14]   (about 3 minutes)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from idle_pass import gmail_naive, gmail_row  # bench/ is on the path of a bench script

from tests.emulators import GoogleEmulators
from watcher.__main__ import main as cli_main
from watcher.config import Config
from watcher.engine import Engine
from watcher.models import FollowUp
from watcher.store import Store

GOAL = 130
SEND_UNITS = 100  # messages.send, in Google's table
SIZES = (10, 1_000)
# The database lives in memory-backed /dev/shm when there is one: 20,160 passes of SQLite commits
# on a disk would take longer than the figures are worth. Quota units do not depend on it.
TMP = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108


def config_for(tmp: Path, google: GoogleEmulators) -> Config:
    return Config.for_instance(
        tmp, worker_id="bench", retry_wait_max=0.0, **google.config_overrides()
    )


def life(google: GoogleEmulators, days: int) -> tuple[dict, int, float]:
    alice, bob = google.new_user("alice"), google.new_user("bob")
    with tempfile.TemporaryDirectory(dir=TMP) as tmp:
        env = {
            "REPLYWATCH_INSTANCE_DIR": tmp,
            "REPLYWATCH_RETRY_WAIT_MAX": "0",
            "REPLYWATCH_GMAIL_REFRESH_TOKEN": google.refresh_token(alice),
            **google.env(),
        }

        def cli(*argv):
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = cli_main(list(argv), env)
            if code != 0:
                raise SystemExit(f"CLI {argv[:2]} failed: {out.getvalue()}")
            return out.getvalue()

        cli("account", "add-gmail", "--email", alice.email, "--name", "Alice")
        cli("defaults", "--user", alice.email, "--days", "mon-sun", "--hours", "0-24")
        mid = google.send(alice, [bob], "Proposal", "Shall we?")
        google.gmail.reset_quota()
        phases: dict[str, int] = {}
        cli("followup", "add", "--account", alice.email, "--message-id", mid, "--after", "1w")
        phases["followup add (find the message)"] = google.gmail.units(alice.email)

        config = config_for(Path(tmp), google)
        store = Store.from_config(config)
        start = datetime.now(UTC).replace(microsecond=0)
        clock = {"now": start}
        engine = Engine(store, config, clock=lambda: clock["now"])
        began = time.monotonic()
        sent_at = None
        for minute in range(int(days * 24 * 60)):
            clock["now"] = start + timedelta(minutes=minute + 1)
            before = google.gmail.units(alice.email)
            report = engine.run_pass()
            if report.sent:
                sent_at = minute
                phases["the pass that sent the bump"] = google.gmail.units(alice.email) - before
        elapsed = time.monotonic() - began
        with store.session() as s:
            state = s.query(FollowUp).one().state
        store.dispose()
    total = google.gmail.units(alice.email)
    calls = google.gmail.calls(alice.email)
    phases["every other pass (polling)"] = total - sum(phases.values())
    if sent_at is None or state != "completed":
        raise SystemExit(f"the follow-up did not complete (state {state})")
    return {"phases": phases, "calls": calls, "sent_at": sent_at}, total, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=14)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    google = GoogleEmulators().start()
    google.gmail.user_rate_limit = None  # the bench compresses days into minutes
    try:
        print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, SQLite")
        print("Gmail API quota units (Google's per-method costs, counted by the emulator)\n")
        print(f"{'one idle pass':<34}{'units':>7}  calls")
        idle_units = 0
        for size in SIZES:  # measured as bench/idle_pass.py does (that script goes to 10,000)
            row = gmail_row(google, size)
            idle_units = max(idle_units, row["units"])
            print(f"{f'  {size:,} tracked threads':<34}{row['units']:>7}  {row['calls']}")
        result, total, elapsed = life(google, args.days)
        passes = args.days * 24 * 60
        print(f"\none follow-up's life: {args.days} days, {passes:,} passes (1/min), one bump")
        for name, units in result["phases"].items():
            print(f"  {name:<44}{units:>8}")
        print(f"  {'total':<44}{total:>8}")
        print(f"  calls: {dict(result['calls'])}")
        print(f"  bump sent after {result['sent_at'] / 1440:.2f} days; {elapsed:.0f}s wall time")
        polling = passes * idle_units
        own = total - polling
        poll = gmail_naive(google, 1)["units"]  # one threads.get of a real thread
        phases = result["phases"]
        naive_total = poll * passes + phases["followup add (find the message)"] + SEND_UNITS
        print(f"\n  {'the account polling (passes x idle pass)':<44}{polling:>8}")
        print(f"  {'what the follow-up itself cost':<44}{own:>8}")
        print(f"  {f'baseline: threads.get ({poll} units) every pass':<44}{naive_total:>8}")
        print(f"  {'total / baseline':<44}{total / naive_total:>8.3f}")
        ok = own <= GOAL
        print(f"\ngoal: <= {GOAL} units for the follow-up's own calls: {'met' if ok else 'MISSED'}")
        return 0 if ok else 1
    finally:
        google.stop()


if __name__ == "__main__":
    sys.exit(main())
