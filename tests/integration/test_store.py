"""The store on SQLite: migrations, claims with leases, scoping, encryption at rest."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from watcher.errors import ConflictError, CryptoError, NotFoundError
from watcher.models import Account, FollowUp, FollowUpState, Stage
from watcher.store import Store

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@pytest.fixture
def config(db_config):
    """Every test here runs on SQLite and on PostgreSQL."""
    return db_config


@pytest.fixture
def store(config):
    store = Store.from_config(config)
    store.migrate()
    yield store
    store.dispose()


# Long enough that random ciphertext never contains it ("pw" was found in a Fernet token once).
SECRET = "imap-password-of-alice-7f3k"


def _account(store, email="alice@example.test", user_email=None):
    with store.session() as s:
        user = store.get_or_create_user(s, user_email or email)
        account = store.add_account(
            s, user, kind="imap", email=email, settings={"imap_host": "h"}, secret=SECRET, now=T0
        )
        return account.id, user.id


def _followups(store, account_id, user_id, due_times):
    ids = []
    with store.session() as s:
        for i, due in enumerate(due_times):
            f = FollowUp(
                user_id=user_id,
                account_id=account_id,
                anchor_message_id=f"<m{i}-{account_id}@x>",
                anchor_at=T0 - timedelta(days=7),
                clock_base_at=T0 - timedelta(days=7),
                due_at=due,
                state=FollowUpState.ACTIVE,
            )
            f.stages.append(Stage(position=1, delay="1w"))
            s.add(f)
            s.flush()
            ids.append(f.id)
    return ids


def test_migrate_creates_every_table_and_is_idempotent(store):
    store.migrate()  # a second run changes nothing and does not fail
    tables = set(inspect(store.engine).get_table_names())
    assert {"users", "accounts", "followups", "stages", "events", "tracked_ids"} <= tables
    assert "alembic_version" in tables


def test_claim_due_takes_only_due_unleased_and_orders_by_due(store):
    account_id, user_id = _account(store)
    late, early, future = _followups(
        store, account_id, user_id, [T0 - timedelta(minutes=1), T0 - timedelta(hours=1), T0 + LEASE]
    )
    assert store.claim_due("w1", T0, LEASE, 10) == [early, late]
    # Leased: a second watcher gets nothing until the lease runs out.
    assert store.claim_due("w2", T0, LEASE, 10) == []
    assert store.claim_due("w2", T0 + LEASE + timedelta(seconds=1), LEASE, 10) == [
        early,
        late,
        future,
    ]


def test_claim_due_respects_limit_and_account(store):
    a1, u1 = _account(store, "a@example.test")
    a2, u2 = _account(store, "b@example.test")
    ids1 = _followups(store, a1, u1, [T0 - timedelta(minutes=i) for i in range(1, 4)])
    ids2 = _followups(store, a2, u2, [T0 - timedelta(minutes=10)])
    assert store.claim_due("w", T0, LEASE, 2, account_id=a1) == [ids1[2], ids1[1]]
    assert store.claim_due("w", T0, LEASE, 10, account_id=a2) == ids2


def test_concurrent_claims_never_hand_out_the_same_followup(store, config):
    account_id, user_id = _account(store)
    ids = _followups(store, account_id, user_id, [T0 - timedelta(seconds=i) for i in range(200)])
    claimed: dict[str, list[int]] = {}

    def worker(name):
        own = Store.from_config(config)  # separate engine, as a separate process would have
        got = []
        while batch := own.claim_due(name, T0, LEASE, 7):
            got.extend(batch)
        claimed[name] = got
        own.dispose()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for got in claimed.values() for i in got]
    assert sorted(everything) == sorted(ids)  # every one claimed, none twice


def test_claim_account_skips_leased_backing_off_and_disabled(store):
    a1, _ = _account(store, "a@example.test")
    a2, _ = _account(store, "b@example.test")
    a3, _ = _account(store, "c@example.test")
    store.mark_account_failed(a2, "down", permanent=False, now=T0, backoff=timedelta(minutes=5))
    with store.session() as s:
        store.disable_account(s, s.get(Account, a3), T0)
    assert store.claim_account("w1", T0, LEASE) == a1
    assert store.claim_account("w2", T0, LEASE) is None  # a1 leased, a2 backing off, a3 off
    assert store.claim_account("w2", T0 + timedelta(minutes=6), LEASE, exclude=[a1]) == a2


def test_account_failures_back_off_exponentially_and_recover(store):
    a1, _ = _account(store)
    backoff = timedelta(minutes=1)
    for n, expected in [(1, 1), (2, 2), (3, 4), (4, 8)]:
        store.mark_account_failed(a1, "server down", permanent=False, now=T0, backoff=backoff)
        with store.session() as s:
            account = s.get(Account, a1)
            assert account.failures == n
            assert account.next_check_at == T0 + timedelta(minutes=expected)
            assert account.status == "ok"
    store.mark_account_failed(a1, "login refused", permanent=True, now=T0, backoff=backoff)
    with store.session() as s:
        assert s.get(Account, a1).status == "needs_attention"
    store.mark_account_ok(a1, T0)
    with store.session() as s:
        account = s.get(Account, a1)
        assert (account.status, account.failures, account.next_check_at) == ("ok", 0, None)
        kinds = [e.kind for e in store.account_events(s, a1)]
    assert kinds.count("account_error") == 2  # same reason repeated is one event
    assert kinds[0] == "account_ok"


def test_secrets_are_encrypted_at_rest(store, config):
    _account(store)
    with store.engine.connect() as conn:
        (stored,) = conn.exec_driver_sql("select secret from accounts").one()
    assert stored and SECRET not in stored
    with store.session() as s:
        spec = store.account_spec(store.find_account(s, "alice@example.test"))
    assert spec.secret == SECRET
    assert SECRET not in repr(spec)


def test_wrong_key_gives_a_clear_error(store, config):
    _account(store)
    from cryptography.fernet import Fernet

    other = Store(config.database_url, [Fernet.generate_key().decode()])
    with other.session() as s, pytest.raises(CryptoError, match="cannot be decrypted"):
        other.account_spec(other.find_account(s, "alice@example.test"))
    other.dispose()


def test_key_rotation_keeps_secrets_readable(store, config):
    from cryptography.fernet import Fernet

    _account(store)
    new_key = Fernet.generate_key().decode()
    rotated = Store(config.database_url, [new_key, *config.encryption_keys])
    with rotated.session() as s:
        for account in rotated.list_accounts(s):
            account.secret = rotated.box.rotate(account.secret)
    only_new = Store(config.database_url, [new_key])
    with only_new.session() as s:
        account = only_new.find_account(s, "alice@example.test")
        assert only_new.account_spec(account).secret == SECRET
    rotated.dispose()
    only_new.dispose()


def test_queries_are_scoped_to_the_user(store):
    a1, u1 = _account(store, "a@example.test")
    _, u2 = _account(store, "b@example.test")
    (f1,) = _followups(store, a1, u1, [T0])
    with store.session() as s:
        assert store.get_followup(s, f1, user_id=u1).id == f1
        with pytest.raises(NotFoundError):
            store.get_followup(s, f1, user_id=u2)
        with pytest.raises(NotFoundError):
            store.find_account(s, "a@example.test", user_id=u2)
        assert store.list_followups(s, user_id=u2) == []


def test_connecting_the_same_address_twice_is_refused(store):
    _account(store)
    with pytest.raises(ConflictError, match="already connected"):
        _account(store)
