"""`python -m watcher db upgrade | rotate-keys | backup PATH | restore PATH`."""

from __future__ import annotations

from .. import backup
from ..config import Config
from ..store import Store


def add_parser(sub) -> None:
    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="apply migrations")
    db.add_parser("rotate-keys", help="re-encrypt stored secrets with the newest key")
    bk = db.add_parser("backup", help="copy the SQLite database to a new file (safe while running)")
    bk.add_argument("path", help="the new backup file")
    rs = db.add_parser(
        "restore", help="replace the SQLite database with a backup (stop the watchers first)"
    )
    rs.add_argument("path", help="a file made by `db backup`")


def cmd_db(args, config: Config, store: Store, env) -> int:
    if args.db == "upgrade":
        print("database is at the newest revision")
        return 0
    if args.db == "backup":
        revision = backup.backup(store, args.path)
        print(f"backed up to {args.path} (schema revision {revision})")
        return 0
    if args.db == "restore":
        was, now = backup.restore(store, args.path)
        upgraded = f", upgraded to {now}" if was != now else ""
        print(f"restored {args.path} (schema revision {was}{upgraded})")
        return 0
    with store.session() as s:
        count = 0
        for account in store.list_accounts(s):
            if account.secret:
                account.secret = store.box.rotate(account.secret)
                count += 1
    print(f"re-encrypted {count} stored secret(s) with the newest key")
    return 0


COMMANDS = {"db": cmd_db}
