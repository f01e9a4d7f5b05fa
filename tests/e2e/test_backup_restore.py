"""`python -m watcher db backup | restore`: a consistent copy while running, a refusal for a
newer schema, an upgrade for an older one, and no bump sent twice after a restore."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

from tests.e2e.test_crash_safety import _two_days_ago, stage_state
from tests.e2e.test_watcher_e2e import add_followup, bumps_sent_by, connect, token_of
from watcher.backup import head_revision
from watcher.compose import bump_message_id
from watcher.engine import Engine
from watcher.models import FollowUp
from watcher.store import MIGRATIONS_DIR, Store


def _revision(path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


COUNTS = {"users": "SELECT count(*) FROM users", "events": "SELECT count(*) FROM events"}


def _count(path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(COUNTS[table]).fetchone()[0]


def test_a_backup_taken_while_another_process_writes_is_whole_and_private(cli, config, tmp_path):
    code, _, err = cli("user", "list")  # creates and migrates the database
    assert code == 0, err
    live = str(Path(config.instance_dir) / "replywatch.db")
    store = Store.from_config(config)
    with store.session() as s:
        user = store.get_or_create_user(s, "writer@example.test")
        user_id = user.id
    stop, written = threading.Event(), []

    def keep_writing():  # the watcher's stand-in: commits without pause during the backup
        while not stop.is_set():
            with store.session() as s:
                store.add_event(
                    s, user_id=user_id, kind="note", detail="x" * 2000, at=datetime.now(UTC)
                )
            written.append(1)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 50 and writer.is_alive():
            stop.wait(0.01)
        assert writer.is_alive()
        target = tmp_path / "nightly.db"
        code, out, err = cli("db", "backup", str(target))
    finally:
        stop.set()
        writer.join(30)
    store.dispose()
    assert code == 0, err
    assert f"schema revision {head_revision()}" in out
    assert os.stat(target).st_mode & 0o777 == 0o600  # it holds the same secrets
    with contextlib.closing(sqlite3.connect(target)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file
    assert _count(target, "events") >= 50
    assert _count(target, "events") <= _count(live, "events")

    code, _, err = cli("db", "backup", str(target))  # never overwrites
    assert code == 2 and "exists already" in err


def test_restore_refuses_a_backup_from_a_newer_version_and_changes_nothing(cli, config, tmp_path):
    cli("defaults", "--user", "keep@example.test", "--timezone", "Europe/Berlin")
    target = tmp_path / "future.db"
    assert cli("db", "backup", str(target))[0] == 0
    with contextlib.closing(sqlite3.connect(target)) as db:
        db.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
        db.execute("DELETE FROM users")
        db.commit()
    code, _, err = cli("db", "restore", str(target))
    assert code == 2
    assert "newer Replywatch" in err and "0099_from_the_future" in err
    live = str(Path(config.instance_dir) / "replywatch.db")
    assert _count(live, "users") == 1 and _revision(live) == head_revision()


def test_restore_upgrades_an_older_backup_to_this_schema(cli, config, tmp_path):
    old = tmp_path / "old.db"
    store = Store(f"sqlite:///{old}", config.encryption_keys)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO users (id, email, display_name, timezone, send_days, send_hours,"
            " default_delay, bump_template, replier_policy, own_message_policy, ooo_policy,"
            " created_at) VALUES (7, 'old@example.test', '', 'UTC', 'mon-fri', '09:00-17:00',"
            " '1w', 'Hi', 'anyone', 'restart', 'pause', '2026-11-01 10:00:00')"
        )
    store.dispose()
    with contextlib.closing(sqlite3.connect(old)) as db:
        db.execute("PRAGMA journal_mode=DELETE")
    code, out, err = cli("db", "restore", str(old))
    assert code == 0, err
    assert f"schema revision 0004, upgraded to {head_revision()}" in out
    live = str(Path(config.instance_dir) / "replywatch.db")
    assert _revision(live) == head_revision()
    code, out, err = cli("user", "list")
    assert code == 0 and "old@example.test" in out, err
    with contextlib.closing(sqlite3.connect(live)) as db:  # a column from after 0004
        assert db.execute("SELECT session_generation FROM users WHERE id = 7").fetchone() == (0,)


def test_restore_refuses_what_is_not_a_backup(cli, tmp_path):
    junk = tmp_path / "notes.db"
    junk.write_text("not a database at all, just some text " * 20)
    code, _, err = cli("db", "restore", str(junk))
    assert code == 2 and "not a Replywatch SQLite backup" in err
    code, _, err = cli("db", "restore", str(tmp_path / "missing.db"))
    assert code == 2 and "no backup file" in err


def test_postgresql_is_backed_up_with_pg_dump(cli, pg_url, tmp_path):
    for argv in (("db", "backup", str(tmp_path / "x.db")), ("db", "restore", "x.dump")):
        code, _, err = cli(*argv, env={"DATABASE_URL": pg_url})
        assert code == 2 and "pg_dump" in err and "pg_restore" in err
    assert not (tmp_path / "x.db").exists()


def test_backup_then_restore_through_the_commands_never_sends_a_bump_twice(
    mail_world, cli, config, tmp_path
):
    alice = mail_world.new_user("alice")
    connect(cli, mail_world, alice)
    assert cli("defaults", "--user", alice.email, "--days", "mon-sun", "--hours", "0-24")[0] == 0
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Backup", "Hello?", date=_two_days_ago())
    fid = add_followup(cli, alice, mid, "--after", "1d")
    nightly = tmp_path / "nightly.db"
    code, _, err = cli("db", "backup", str(nightly))  # before the watcher sends
    assert code == 0, err

    store = Store.from_config(config)
    bump_id = bump_message_id(token_of(store, fid), 1, alice.email)
    engine = Engine(store, config, clock=lambda: datetime.now(UTC) + timedelta(hours=1))
    assert engine.run_pass().sent == 1
    assert stage_state(store, fid) == "sent"
    store.dispose()

    code, out, err = cli("db", "restore", str(nightly))
    assert code == 0 and "restored" in out, err
    store = Store.from_config(config)
    assert stage_state(store, fid) == "pending"  # the backup predates the send
    report = Engine(store, config, clock=lambda: datetime.now(UTC) + timedelta(hours=2)).run_pass()
    assert report.sent == 1  # recorded from the thread, not sent
    assert stage_state(store, fid) == "sent"
    assert [m.message_id for m in bumps_sent_by(mail_world, alice)] == [bump_id]
    assert mail_world.sink.count(bump_id) == 1
    with store.session() as s:
        details = [e.detail for e in s.get(FollowUp, fid).events]
    assert any("already in the thread" in d for d in details), details
    store.dispose()
