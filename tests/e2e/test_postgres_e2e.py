"""The same user journey with PostgreSQL as the store: CLI and watcher share one database."""

from __future__ import annotations

import pytest

from tests.e2e.test_watcher_e2e import add_followup, bumps_sent_by, connect, state_of
from watcher.engine import Engine
from watcher.store import Store


@pytest.fixture
def pg_cli(cli, pg_url):
    def run(*argv, env=None):
        return cli(*argv, env={"DATABASE_URL": pg_url, **(env or {})})

    return run


def test_reply_and_silence_on_postgres(mail_world, pg_cli, pg_url, config, clock):
    alice, bob = mail_world.new_user("alice"), mail_world.new_user("bob")
    connect(pg_cli, mail_world, alice)
    pg_cli("defaults", "--user", alice.email, "--days", "mon-sun", "--hours", "0-24")
    answered = mail_world.send(alice, [bob], "Answered", "?")
    silent = mail_world.send(alice, [bob], "Silent", "?")
    answered_fu = add_followup(pg_cli, alice, answered, "--after", "2d")
    silent_fu = add_followup(pg_cli, alice, silent, "--after", "2d")

    store = Store(pg_url, config.encryption_keys)
    engine = Engine(store, config.with_overrides(database_url=pg_url), clock=clock.now)
    engine.run_pass()
    mail_world.send(bob, [alice], "Re: Answered", "Yes", in_reply_to=answered)
    clock.advance(days=2, minutes=1)
    engine.run_pass()
    engine.run_pass()
    assert state_of(store, answered_fu) == "replied"
    assert state_of(store, silent_fu) == "completed"
    assert len(bumps_sent_by(mail_world, alice)) == 1
    store.dispose()
