"""Alembic is the only way the schema is made: on SQLite and PostgreSQL it matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from watcher.models import Base
from watcher.store import Store


def test_migrations_build_exactly_the_models(config, postgres):
    urls = [config.database_url, postgres.url(postgres.create_database())]  # both empty
    for url in urls:
        store = Store(url, config.encryption_keys)
        store.migrate()
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        store.dispose()
        assert diff == [], f"{url.split(':')[0]}: models and migrations differ: {diff}"


def test_upgrade_from_the_first_revision_keeps_the_data(config, postgres):
    """A deployment on revision 0001 with accounts and follow-ups upgrades in place."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import text

    from watcher.store import MIGRATIONS_DIR

    urls = [
        config.database_url.replace("replywatch.db", "old.db"),
        postgres.url(postgres.create_database()),
    ]
    for url in urls:
        store = Store(url, config.encryption_keys)
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
        with store.engine.begin() as conn:  # rows as revision 0001 wrote them
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
                    "INSERT INTO accounts (id, user_id, kind, email, display_name, aliases,"
                    " settings, secret, status, status_reason, failures, created_at) VALUES"
                    " (1, 1, 'imap', 'a@example.test', '', '[]', '{}', 'x', 'ok', '', 0,"
                    " '2026-11-01 10:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO followups (id, token, user_id, account_id, anchor_message_id,"
                    " anchor_at, subject, to_addrs, cc_addrs, recipient_name, mode, state,"
                    " current_stage, due_at, clock_base_at, needs_check, replier_policy,"
                    " stop_reason, created_at, updated_at) VALUES (1, 't1', 1, 1, '<m@x>',"
                    " '2026-11-01 10:00:00', 'Hi', '[]', '[]', '', 'send', 'active', 1,"
                    " '2026-11-08 10:00:00', '2026-11-01 10:00:00', false, 'anyone', '',"
                    " '2026-11-01 10:00:00', '2026-11-01 10:00:00')"
                )
            )
        store.migrate()  # to head
        with store.session() as s:
            from watcher.models import FollowUp, User

            user = s.get(User, 1)
            followup = s.get(FollowUp, 1)
            assert user.email == "a@example.test" and user.ooo_policy == "pause"
            assert followup.state == "active" and followup.anchor_message_id == "<m@x>"
        store.dispose()
