"""Migration 0007 (recipient_zones.scanned_at) upgrades a 0006 database in place, keeping what
was learnt, and downgrades cleanly: on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import inspect, text

from watcher.models import RecipientZone
from watcher.store import MIGRATIONS_DIR, Store


def _alembic(store: Store, revision: str, *, down: bool = False) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _columns(store: Store) -> set[str]:
    return {c["name"] for c in inspect(store.engine).get_columns("recipient_zones")}


def test_0007_adds_scanned_at_and_keeps_learnt_zones(config, postgres):
    urls = [
        config.database_url.replace("replywatch.db", "at0006.db"),
        postgres.url(postgres.create_database()),
    ]
    for url in urls:
        store = Store(url, config.encryption_keys)
        _alembic(store, "0006")
        assert "scanned_at" not in _columns(store)
        with store.engine.begin() as conn:  # a row as revision 0006 wrote it
            conn.execute(
                text(
                    "INSERT INTO users (id, email, display_name, timezone, send_days, send_hours,"
                    " default_delay, bump_template, replier_policy, own_message_policy,"
                    " created_at) VALUES (1, 'a@example.test', '', 'UTC', 'mon-fri',"
                    " '09:00-17:00', '1w', 'Hi', 'anyone', 'restart', '2026-11-01 10:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO recipient_zones (id, user_id, address, observations,"
                    " inferred_zone, override_zone, updated_at) VALUES (1, 1, 'bob@x.test',"
                    " '[[\"2026-11-02T15:00:00+00:00\", -300]]', 'America/New_York', NULL,"
                    " '2026-11-02 15:00:00')"
                )
            )
        store.migrate()  # to head
        assert "scanned_at" in _columns(store)
        with store.session() as s:
            row = s.get(RecipientZone, 1)
            assert (row.address, row.zone, row.scanned_at) == (
                "bob@x.test",
                "America/New_York",
                None,
            )
            assert row.observations == [["2026-11-02T15:00:00+00:00", -300]]
        _alembic(store, "0006", down=True)
        assert "scanned_at" not in _columns(store)
        with store.engine.connect() as conn:
            zone = conn.execute(text("SELECT inferred_zone FROM recipient_zones")).scalar()
        assert zone == "America/New_York"
        store.dispose()
