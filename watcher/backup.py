"""`python -m watcher db backup PATH` and `db restore PATH`.

SQLite: sqlite3's online backup API copies a consistent snapshot page by page while watchers
and the web app keep writing (each step takes the read lock briefly; a write in between makes
it restart that step), so a backup never needs the watcher stopped. Restoring goes the same way
in the other direction, then Alembic upgrades an older backup to this code's schema; a backup
made by newer code (a revision this code does not know) is refused before anything is touched.

PostgreSQL has its own tools: `pg_dump` / `pg_restore` are consistent while the database is in
use, so these commands only say so.

A restored database may be older than the mailboxes: a bump it believes unsent may have gone
out after the backup. The engine's exactly-once checks cover that (the thread read before a
send shows the bump's Message-ID, and it is recorded, not sent again).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from .errors import ValidationError
from .store import MIGRATIONS_DIR, Store

PG_HINT = (
    "this database is PostgreSQL: back it up with pg_dump "
    "(e.g. pg_dump -Fc -f replywatch.dump DBNAME) and restore it with pg_restore; "
    "then `python -m watcher db upgrade` brings an older dump to this version's schema"
)


def _sqlite_path(store: Store) -> str:
    url = make_url(str(store.engine.url))
    if url.get_backend_name() != "sqlite":
        raise ValidationError(PG_HINT)
    if not url.database or url.database == ":memory:":
        raise ValidationError("this SQLite database lives in memory: there is no file to back up")
    return url.database


def _scripts() -> ScriptDirectory:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg)


def head_revision() -> str:
    return _scripts().get_current_head()


def revision_of(path: str) -> str | None:
    """The Alembic revision recorded in a SQLite file (None: no alembic_version table)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError as e:
            raise ValidationError(f"{path} is not a Replywatch SQLite backup ({e})") from None
    return row[0] if row else None


def backup(store: Store, target: str) -> str:
    """Copy the live database to `target` (a new file, 0600). Returns its schema revision."""
    source = _sqlite_path(store)
    dest = Path(target)
    if dest.exists():
        raise ValidationError(f"{dest} exists already: choose a new file (nothing was written)")
    if not dest.parent.is_dir():
        raise ValidationError(f"no folder {dest.parent} to write the backup into")
    # Created 0600 before SQLite opens it: a backup holds the same secrets as the database.
    os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=30)) as live,
            contextlib.closing(sqlite3.connect(dest)) as copy,
        ):
            live.backup(copy, pages=256)  # in steps: writers are held up briefly, never long
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return revision_of(str(dest)) or "none"


def check_restorable(path: str) -> str:
    """The backup's revision, if this code knows it (same or older); else a clear refusal."""
    if not Path(path).is_file():
        raise ValidationError(f"no backup file {path}")
    revision = revision_of(path)
    if revision is None:
        raise ValidationError(f"{path} has no schema revision: not a Replywatch backup")
    scripts = _scripts()
    known = {rev.revision for rev in scripts.walk_revisions()}
    if revision not in known:
        raise ValidationError(
            f"{path} was made by a newer Replywatch (schema revision {revision}; this version "
            f"knows up to {scripts.get_current_head()}): upgrade Replywatch first, nothing was "
            "restored"
        )
    return revision


def restore(store: Store, path: str) -> tuple[str, str]:
    """Replace the live database with the backup, then upgrade it. (backup's revision, head)"""
    live_path = _sqlite_path(store)
    revision = check_restorable(path)
    store.dispose()  # our own pooled connections must not hold the old file open
    with (
        contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source,
        contextlib.closing(sqlite3.connect(live_path, timeout=30)) as live,
    ):
        source.backup(live)
    store.migrate()
    return revision, head_revision()
