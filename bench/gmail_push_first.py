"""Gmail API units per idle account-day, push on and off, counted by the Gmail emulator.

One Gmail account with nothing new, a day of `run`'s passes (one a minute on the injected
clock, Engine.run_pass(respect_interval=True)). Push off: every pass polls (users.getProfile).
Push on (a Pub/Sub topic configured, the account's users.watch alive): the account is polled
every gmail_safety_poll_seconds only, plus the daily users.watch renewal (100 units).
Exit status 1 if push on misses issue 23's goal (<= 150 units per idle account-day).

One day, starting at the wall clock: the emulator dates a watch's 7 days from the real time, so
on a later simulated day every check would find it under 6 days from expiry and renew it (the
first day's one users.watch stands for the daily renewal; tests/e2e/test_push.py notes the same).

Run: .venv/bin/python bench/gmail_push_first.py   (about 10 seconds)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.emulators import GoogleEmulators
from watcher.config import Config
from watcher.engine import Engine
from watcher.store import Store

GOAL = 150
TOPIC = "projects/replywatch-bench/topics/gmail"
TMP = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108


def idle_days(google: GoogleEmulators, days: int, topic: str) -> tuple[int, dict, float]:
    """(units, calls by method, wall seconds) for `days` idle days of one account."""
    who = google.new_user("idle")
    with tempfile.TemporaryDirectory(dir=TMP) as tmp:
        config = Config.for_instance(
            Path(tmp), worker_id="bench", retry_wait_max=0.0, gmail_pubsub_topic=topic,
            **google.config_overrides(),
        )  # fmt: skip
        store = Store.from_config(config)
        store.migrate()
        start = datetime.now(UTC).replace(microsecond=0)
        with store.session() as s:
            user = store.get_or_create_user(s, who.email)
            store.add_account(
                s, user, kind="gmail", email=who.email, settings={},
                secret=json.dumps({"refresh_token": google.refresh_token(who)}), now=start,
            )  # fmt: skip
        clock = {"now": start}
        engine = Engine(store, config, clock=lambda: clock["now"])
        google.gmail.reset_quota()
        began = time.monotonic()
        for minute in range(days * 24 * 60):
            clock["now"] = start + timedelta(minutes=minute)
            engine.run_pass(respect_interval=True)
        elapsed = time.monotonic() - began
        store.dispose()
    return google.gmail.units(who.email), dict(google.gmail.calls(who.email)), elapsed


def main() -> int:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    days = 1
    logging.basicConfig(level=logging.ERROR)
    google = GoogleEmulators().start()
    google.gmail.user_rate_limit = None  # the bench compresses days into seconds
    try:
        print(f"one idle Gmail account, {days} day of passes once a minute (SQLite)")
        print(f"{'':<28}{'units/day':>10}  calls per day")
        results = {}
        for label, topic in (
            ("push off (poll every pass)", ""),
            ("push on (safety poll 1 h)", TOPIC),
        ):
            units, calls, _ = idle_days(google, days, topic)
            per_day = {k: round(v / days, 1) for k, v in calls.items()}
            results[label] = units / days
            print(f"{label:<28}{units / days:>10.0f}  {per_day}")
        ok = results["push on (safety poll 1 h)"] <= GOAL
        verdict = "met" if ok else "MISSED"
        print(f"\ngoal: <= {GOAL} units per idle account-day with push on: {verdict}")
        return 0 if ok else 1
    finally:
        google.stop()


if __name__ == "__main__":
    sys.exit(main())
