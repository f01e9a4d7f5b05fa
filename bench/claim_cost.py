"""Cost of one account claim on PostgreSQL with many accounts and many kept IMAP sessions.

The loop's claim (Store.claim_accounts) orders the due accounts so that those whose sessions
this watcher keeps come first; the kept ids travel as one array parameter. With the ids
compared row by row (= ANY(array)) a claim cost 500 ms at 3,000 accounts and 2,000 kept
sessions, and a claim every ~9 accounts bounded one watcher at about 2,200 accounts a minute
(bench/many_accounts.py --accounts 3000). This prints the time of a claim of 9 accounts with
no kept session (the baseline) and with K kept, on a throwaway PostgreSQL cluster.

Run: .venv/bin/python bench/claim_cost.py [--accounts 3000] [--kept 2000]   (about 20 s)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select, update

from tests.servers.postgres import Postgres
from watcher.config import Config
from watcher.models import Account
from watcher.store import Store

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # any fixed moment: nothing here reads the date


def claims_ms(store: Store, kept: list[int], rounds: int) -> list[float]:
    """Milliseconds per claim of 9 accounts; each claimed batch is marked checked and released."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        ids = store.claim_accounts(
            "bench", NOW, timedelta(minutes=5), 9, fresh_for=timedelta(seconds=45),
            kept=kept, late_before=NOW - timedelta(seconds=90),
        )  # fmt: skip
        times.append((time.perf_counter() - start) * 1000)
        with store.session() as s:
            s.execute(
                update(Account)
                .where(Account.id.in_(ids))
                .values(lease_owner=None, lease_until=None, last_ok_at=NOW)
            )
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--kept", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with Postgres() as pg, tempfile.TemporaryDirectory() as tmp:
        url = pg.url(pg.create_database())
        store = Store.from_config(Config.for_instance(Path(tmp), database_url=url))
        store.migrate()
        with store.session() as s:
            user = store.get_or_create_user(s, "owner@example.test")
            for i in range(args.accounts):
                store.add_account(
                    s, user, kind="imap", email=f"a{i}@example.test", settings={},
                    secret="{}", now=NOW,  # noqa: S106 (no secret: never used)
                )  # fmt: skip
        with store.session() as s:
            ids = list(s.scalars(select(Account.id).order_by(Account.id)))
        print(f"{args.accounts:,} accounts, claims of 9, PostgreSQL 15 on 127.0.0.1")
        for label, kept in (("no kept session", []), (f"{args.kept:,} kept", ids[: args.kept])):
            with store.session() as s:  # every account due again, never checked
                s.execute(update(Account).values(last_ok_at=None, lease_owner=None))
            ms = claims_ms(store, kept, args.rounds)
            print(f"  {label:>18}: median {statistics.median(ms):6.1f} ms, max {max(ms):6.1f} ms")
        store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
