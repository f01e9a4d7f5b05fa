"""`python -m watcher stats [--user EMAIL] [--account ID] [--json]`: results of the follow-ups."""

from __future__ import annotations

from .. import stats
from ..config import Config
from ..store import Store


def add_parser(sub) -> None:
    st = sub.add_parser("stats", help="results: replies before/after each bump, time to reply")
    st.add_argument("--user", help="only this user (e-mail); default: every user in turn")
    st.add_argument("--account", help="only this account (id or e-mail)")
    st.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_stats(args, config: Config, store: Store, env) -> int:
    print(stats.run_cli(store, user=args.user, account=args.account, as_json=args.json))
    return 0


COMMANDS = {"stats": cmd_stats}
