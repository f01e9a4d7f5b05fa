"""pytest fixtures for PostgreSQL: one cluster per session, one database per test.

The template database is migrated once through Alembic; each test's database is a copy of it.
"""

from __future__ import annotations

import pytest

from tests.servers.postgres import PG_BIN, Postgres

TEMPLATE = "replywatch_template"


@pytest.fixture(scope="session")
def postgres():
    if not (PG_BIN / "initdb").exists():
        pytest.fail(
            "PostgreSQL 15 is not installed; the store tests need it: "
            "apt-get install -y postgresql-15 (make test does this)",
            pytrace=False,
        )
    server = Postgres().start()
    from watcher.store import Store

    server.execute(f'CREATE DATABASE "{TEMPLATE}"')
    store = Store(server.url(TEMPLATE), ["A" * 43 + "="])
    store.migrate()
    store.dispose()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres):
    """A fresh, migrated PostgreSQL database for one test."""
    return postgres.url(postgres.create_database(template=TEMPLATE))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_config(request, config):
    """The test's Config on SQLite, then again on PostgreSQL."""
    if request.param == "sqlite":
        return config
    return config.with_overrides(database_url=request.getfixturevalue("pg_url"))
