"""Command line (the watcher's composition root).

    python -m watcher run | once
    python -m watcher db upgrade | rotate-keys | backup PATH | restore PATH
    python -m watcher account add-imap | add-gmail | list | check | remove | triggers | send-cap
    python -m watcher defaults --user EMAIL [--timezone ...]
    python -m watcher followup add | list | show | cancel | unconfirmed | snooze
    python -m watcher recipient list | zone
    python -m watcher rule add | list | show | edit | enable | disable | remove | dry-run
    python -m watcher later list | show | move | cancel | send-now | then
    python -m watcher stats [--user EMAIL] [--account ID] [--json]
    python -m watcher user list | set-password | sign-out-everywhere

Passwords come from a prompt or from REPLYWATCH_IMAP_PASSWORD / REPLYWATCH_SMTP_PASSWORD, and a
Google refresh token from a prompt or REPLYWATCH_GMAIL_REFRESH_TOKEN, never from argv (argv is
visible to every user of the machine).

One module per command group: each adds its subparsers (`add_parser(sub)`) and names the
handler of its top-level command(s) (`COMMANDS`); a handler is `(args, config, store, env)`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime

from ..config import Config
from ..errors import ReplywatchError
from ..store import Store
from . import account, db, defaults, followup, later, recipient, rule, run, stats, user

# In the order `--help` lists them.
GROUPS = (run, db, account, defaults, recipient, followup, later, stats, rule, user)
COMMANDS = {name: handler for group in GROUPS for name, handler in group.COMMANDS.items()}


def now_utc() -> datetime:
    return datetime.now(UTC)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m watcher", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_parser(sub)
    return p


def main(argv: list[str] | None = None, environ=None, clock=None) -> int:
    """`clock` is the injected "now" (tests fix it); every command reads time through
    `args.clock`, never the wall clock directly."""
    args = build_parser().parse_args(argv)
    args.clock = clock or now_utc
    env = os.environ if environ is None else environ
    logging.basicConfig(
        level=logging.INFO if args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        config = Config.from_env(env)
        store = Store.from_config(config)
        store.migrate()
        return COMMANDS[args.command](args, config, store, env)
    except ReplywatchError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
