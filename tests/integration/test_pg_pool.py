"""The PostgreSQL pool pings a connection only after it sat idle: a busy pass pays no ping,
and a connection the server dropped while idle is replaced before anyone uses it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from watcher.store import Store, base


def _backend_pid(store: Store) -> int:
    with store.session() as s:
        return s.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(pg_url, config, pid: int) -> None:
    other = Store(pg_url, config.encryption_keys)
    with other.session() as s:  # the server (a restart, an idle timeout) ends that backend
        s.execute(text("SELECT pg_terminate_backend(:pid, 30000)"), {"pid": pid})
    other.dispose()


class PoolClock:
    """The pool's idea of time, moved by the test."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pool_clock(monkeypatch) -> PoolClock:
    clock = PoolClock()
    monkeypatch.setattr(base, "_monotonic", clock)
    return clock


def test_a_connection_back_in_the_pool_a_moment_ago_is_not_pinged(pg_url, config, pool_clock):
    store = Store(pg_url, config.encryption_keys)
    first = _backend_pid(store)
    pool_clock.now += 1.0
    assert _backend_pid(store) == first  # the same connection, straight from the pool
    _terminate(pg_url, config, first)
    pool_clock.now += 1.0
    # Not pinged (no round trip on a busy pass), so the dead connection shows only on use;
    # the pool then replaces it and the engine's next session works.
    with pytest.raises(OperationalError):
        _backend_pid(store)
    assert _backend_pid(store) != first
    store.dispose()


def test_a_connection_dropped_while_idle_is_replaced_without_an_error(pg_url, config, pool_clock):
    store = Store(pg_url, config.encryption_keys)
    dropped = _backend_pid(store)
    _terminate(pg_url, config, dropped)
    pool_clock.now += base.PING_AFTER_IDLE_SECONDS + 1
    assert _backend_pid(store) != dropped  # pinged, found dead, replaced: no error reaches us
    store.dispose()
