"""The database engine and short sessions: the plumbing every query module builds on.

SQLite gets a private file (0600) and serialized writers (BEGIN IMMEDIATE), so a claim is atomic
there too; PostgreSQL a pooled engine that pings before use. migrate() is the only way the schema
is created or changed.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Self

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from ..crypto import SecretBox

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        _create_private(make_url(database_url).database)
        engine = create_engine(
            database_url, connect_args={"timeout": 30, "check_same_thread": False}
        )
        _serialize_sqlite_writers(engine)
        return engine
    engine = create_engine(database_url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    _ping_after_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


# A watcher's account workers (up to 32 in the benchmarks) and their lease keepers each hold a
# connection for a moment; SQLAlchemy's default of 5 + 10 would make them queue for one.
POOL_SIZE, POOL_OVERFLOW = 10, 40
# A pooled connection is pinged only when it sat unused this long. pool_pre_ping's ping on
# every checkout was one extra round trip per session, 14 per idle account check.
PING_AFTER_IDLE_SECONDS = 10.0
_monotonic = time.monotonic  # tests move it


def _ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """SQLAlchemy's pessimistic disconnect handling, only for connections that sat idle: a
    server restart or an idle-timeout cut shows on the first checkout after it, and raising
    DisconnectionError there makes the pool replace the connection and try again."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record):
        record.info["checked_in_at"] = _monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):
        since = record.info.get("checked_in_at")
        if since is None or _monotonic() - since < idle_seconds:
            return  # new, or back in the pool a moment ago
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc


def _create_private(path: str | None) -> None:
    """Create a new SQLite file 0600 (owner only; its WAL and shm files follow its mode):
    left to SQLite it would be 0644, readable by every local user if the folder lets them."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _serialize_sqlite_writers(engine: Engine) -> None:
    """SQLAlchemy's documented recipe: take the write lock at BEGIN, so two writers never
    interleave a read-then-update (that is what makes a claim atomic on SQLite)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" below emit BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class StoreBase:
    """The engine, the session factory and the secret box, shared by every query module
    (each is a mixin on this; `Store` combines them into the one object callers hold)."""

    def __init__(self, database_url: str, encryption_keys: Iterable[str]):
        self.engine = make_engine(database_url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.box = SecretBox(tuple(encryption_keys))

    @classmethod
    def from_config(cls, config) -> Self:
        return cls(config.database_url, config.encryption_keys)

    # -- plumbing ------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (the only way it is created)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.connect() as conn:
            sqlite = self.engine.dialect.name == "sqlite"
            if sqlite:
                # SQLite ALTERs by copying a table and dropping the old one; with foreign keys
                # on, that drop would cascade and delete every row that points at it. The
                # pragma only works outside a transaction, so set it on the raw connection.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
            finally:
                if sqlite:
                    conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One short transaction: committed on success, rolled back on any error."""
        with self._sessions() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
