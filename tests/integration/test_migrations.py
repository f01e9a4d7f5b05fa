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
