"""Push-first Gmail: with a live users.watch, `run` polls a Gmail account only every
gmail_safety_poll_seconds; a push serves it at once, and a lapsed watch brings back the poll
interval. Units are Google's per-method costs, counted by the Gmail emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.test_push import connect, push_overrides
from watcher.engine import Engine
from watcher.models import Account
from watcher.store import Store

GOAL_UNITS_PER_IDLE_DAY = 150  # issue 23: 24 getProfile + 100 for the daily users.watch = 124


@pytest.fixture
def push_world(gmail_config, google, clock):
    config = gmail_config.with_overrides(**push_overrides(), poll_interval=60.0)
    store = Store.from_config(config)
    store.migrate()
    engine = Engine(store, config, clock=clock.now)
    alice = google.new_user("alice")
    account_id = connect(store, google, alice)
    yield engine, alice, account_id
    store.dispose()


def idle_day(engine, clock) -> None:
    """A day of the loop's passes, one a minute on the injected clock."""
    start = clock.now()
    for minute in range(24 * 60):
        clock.current = start + timedelta(minutes=minute)
        report = engine.run_pass(respect_interval=True)
        assert report.account_faults == 0, report.faults
    clock.current = start + timedelta(days=1)


def test_an_idle_gmail_account_day_costs_at_most_150_units_with_push(push_world, google, clock):
    engine, alice, _ = push_world
    google.gmail.reset_quota()
    idle_day(engine, clock)
    calls = google.gmail.calls(alice.email)
    assert calls["watch"] == 1
    assert calls["getProfile"] == 24  # the hourly safety poll
    assert google.gmail.units(alice.email) <= GOAL_UNITS_PER_IDLE_DAY


def test_a_push_is_served_at_once(push_world, clock):
    engine, _, account_id = push_world
    engine.run_pass(respect_interval=True)
    clock.advance(minutes=5)
    assert engine.run_pass(respect_interval=True).accounts == 0  # push is alive: not polled
    engine.wake_account(account_id)
    assert engine.run_pass(woken_only=True, respect_interval=True).served == {account_id}


def test_without_a_live_watch_the_account_is_polled_every_interval(push_world, clock):
    engine, _, account_id = push_world
    engine.run_pass(respect_interval=True)
    with engine.store.session() as s:
        s.get(Account, account_id).watch_expires_at = clock.now() - timedelta(seconds=1)
    clock.advance(seconds=engine.config.poll_interval)
    assert engine.run_pass(respect_interval=True).served == {account_id}


def test_without_a_topic_the_account_is_polled_every_interval(gmail_config, google, clock):
    store = Store.from_config(gmail_config)
    store.migrate()
    engine = Engine(store, gmail_config, clock=clock.now)
    account_id = connect(store, google, google.new_user("alice"))
    try:
        engine.run_pass(respect_interval=True)
        clock.advance(seconds=gmail_config.poll_interval)
        assert engine.run_pass(respect_interval=True).served == {account_id}
    finally:
        store.dispose()
