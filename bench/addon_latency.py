"""Server-side latency of the add-on's homepage card on SQLite.

Each request is a full POST /addon/homepage through the Flask app in-process (no network): both
ID tokens verified with google-auth (certificates cached after the first request), the event
parsed, the user and accounts looked up, one page of 20 follow-ups read and the Card v1 JSON
built and serialised. Google's own round trip is not included.

Rows: a baseline user with no follow-ups, then users with 200 and 5,000 active follow-ups.
Goal: p99 under GOAL_MS with 200 follow-ups. Exit status 1 if it is missed.

Run: .venv/bin/python bench/addon_latency.py [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app
from tests.emulators.oauth import OAuthEmulator
from tests.support.addon import Addon, addon_overrides
from watcher.config import Config
from watcher.models import FollowUp, FollowUpState, Stage

GOAL_MS = 50.0
SIZES = (0, 200, 5_000)


def seed(store, email: str, count: int) -> None:
    now = datetime.now(UTC)
    with store.session() as s:
        user = store.get_or_create_user(s, email)
        account = store.add_account(
            s,
            user,
            kind="gmail",
            email=email,
            settings={},
            secret="{}",  # noqa: S106 (no real token)
            now=now,
        )
        for i in range(count):
            followup = FollowUp(
                user_id=user.id,
                account_id=account.id,
                anchor_message_id=f"<bench-{i}@example.test>",
                anchor_at=now,
                clock_base_at=now,
                due_at=now + timedelta(hours=1 + (i * 7919) % 5000),
                state=FollowUpState.ACTIVE,
                subject=f"Proposal number {i}",
                to_addrs=[f"client{i}@example.test"],
                recipient_name=f"Client {i}",
            )
            followup.stages.append(Stage(position=1, delay="1w"))
            followup.stages.append(Stage(position=2, delay="2w"))
            s.add(followup)


def measure(oauth: OAuthEmulator, tmp: Path, size: int, requests: int) -> list[float]:
    config = Config.for_instance(tmp / f"n{size}", **oauth.endpoints(), **addon_overrides())
    app = create_app(config)
    store = app.extensions["replywatch"]["store"]
    email = f"user{size}@example.test"
    seed(store, email, size)

    class Google:  # what tests.support.addon.Addon needs of the emulators
        pass

    google = Google()
    google.oauth = oauth
    addon = Addon(app.test_client(), google)
    token = addon.system_token("homepage")
    raw = json.dumps(addon.event(email)).encode()
    first = addon.post("homepage", None, token=token, raw=raw)  # warm: certs, statement cache
    if first.status_code != 200:
        raise SystemExit(f"homepage answered {first.status_code}: {first.get_data(as_text=True)}")
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = addon.post("homepage", None, token=token, raw=raw)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    store.dispose()
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    oauth = OAuthEmulator().start()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for size in SIZES:
                times = sorted(measure(oauth, Path(tmp), size, args.requests))
                p50 = statistics.median(times)
                p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
                rows.append((size, p50, p99, times[-1]))
    finally:
        oauth.stop()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, SQLite")
    print(f"Add-on homepage card, server time, {args.requests} requests each")
    print(f"{'follow-ups':>12} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for size, p50, p99, worst in rows:
        label = f"{size:,}" + (" (baseline)" if size == 0 else "")
        print(f"{label:>12} {p50:>8.1f} {p99:>8.1f} {worst:>8.1f}")
    p99_200 = next(p99 for size, _, p99, _ in rows if size == 200)
    verdict = "met" if p99_200 <= GOAL_MS else "MISSED"
    print(f"goal: p99 <= {GOAL_MS:g} ms with 200 follow-ups: {verdict}")
    return 0 if p99_200 <= GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
