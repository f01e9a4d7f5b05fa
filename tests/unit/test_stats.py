"""Results (watcher.stats): the pure parts table-driven, the queries on seeded SQLite rows
covering every bucket, the NULL replied_at fallbacks, medians, scoping (on SQLite and on
PostgreSQL), the CLI, and the cost at 10,000 follow-ups."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import insert

from tests.support.results import T0, add_account, add_user_account, seed
from watcher import stats
from watcher.models import Event, FollowUp, FollowUpState, Stage, StageState
from watcher.store import Store

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
ST = FollowUpState


def _open(config) -> Store:
    store = Store.from_config(config)
    store.migrate()
    return store


@pytest.fixture
def store(db_config):
    """The queries run on SQLite and again on PostgreSQL (dates compare differently)."""
    store = _open(db_config)
    yield store
    store.dispose()


@pytest.fixture
def sqlite_store(config):
    """The store the CLI fixture (`cli`) reads: the test's SQLite instance."""
    store = _open(config)
    yield store
    store.dispose()


# -- pure ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bumps, bucket",
    [(0, "before"), (1, "after1"), (2, "after2"), (3, "after3"), (7, "after3"), (-1, "before")],
)
def test_reply_bucket(bumps, bucket):
    assert stats.reply_bucket(bumps) == bucket


@pytest.mark.parametrize(
    "values, expected",
    [([], None), ([5.0], 5.0), ([3.0, 1.0, 2.0], 2.0), ([4.0, 1.0, 3.0, 2.0], 2.5)],
)
def test_median_odd_even_and_empty(values, expected):
    assert stats.median(values) == expected


@pytest.mark.parametrize(
    "delta, text",
    [
        (None, "-"),
        (timedelta(seconds=20), "under a minute"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=35), "35 minutes"),
        (timedelta(hours=3, minutes=5), "3 hours 5 minutes"),
        (timedelta(days=2, hours=4, minutes=59), "2 days 4 hours"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=9, minutes=30), "9 days 30 minutes"),
        (timedelta(seconds=-5), "under a minute"),
    ],
)
def test_humanize(delta, text):
    assert stats.humanize(delta) == text


@pytest.mark.parametrize(
    "origin, kind",
    [
        ("", ""),
        (None, ""),
        ("plus-address me+2w@example.test", "plus-address"),
        ("rule 'Cold outreach' (#3)", "rule"),
        ("folder Replywatch/1 week", "folder"),
        ("draft in Replywatch/Bumps", "draft"),
    ],
)
def test_origin_kind(origin, kind):
    assert stats.origin_kind(origin) == kind


def test_nothing_ended_has_no_shares_and_no_medians_instead_of_dividing_by_zero():
    r = stats.Results(scope="x", counts={"waiting": 3, "cancelled": 1})
    assert r.ended == 0 and r.total == 4
    assert all(r.share(k) is None for k in stats.ENDED_BUCKETS)
    assert r.median_reply is None and r.median_before_bump is None
    assert stats.percent(r.share("before")) == "-"
    assert r.as_dict()["shares"]["never"] is None


def test_build_report_sorts_origins_and_gives_every_account_a_line():
    report = stats.build_report(
        [(1, "a@x.test"), (2, "b@x.test")],
        [stats.StateCount(1, "rule 'R' (#1)", ST.COMPLETED, 2)],
        [stats.ReplyRow(1, "", T0, T0 + DAY, 0), stats.ReplyRow(1, "zebra z", T0, T0, 1)],
    )
    assert [r.scope for r in report.accounts] == ["a@x.test", "b@x.test"]
    assert report.accounts[1].total == 0
    assert [r.origin for r in report.origins] == ["", "rule", "zebra"]
    assert report.overall.counts == {"never": 2, "before": 1, "after1": 1}


# -- seeded rows --------------------------------------------------------------------------------


@pytest.fixture
def seeded(store):
    return _seed_world(store)


@pytest.fixture
def seeded_sqlite(sqlite_store):
    return _seed_world(sqlite_store)


def _seed_world(store) -> dict:
    """Alice: account A (by hand) covering every bucket, account B (triggers) with the NULL
    replied_at fallbacks. Mallory: rows that would change every number if they leaked."""
    alice, a = add_user_account(store, "alice@example.test")
    b = add_account(store, alice, "alice@work.test")
    mallory, m = add_user_account(store, "mallory@example.test")
    with store.session() as s:
        # A, before any bump: 2 days; and a reply written before bump 1 went out (6 days).
        seed(s, alice, a, state=ST.REPLIED, reply_after=2 * DAY)
        seed(s, alice, a, state=ST.REPLIED, bumps_done=[7 * DAY], reply_after=6 * DAY)
        # A, after bump 1: 8 days; at the very moment of the bump (7); remind-only (9);
        # unconfirmed (10).
        seed(s, alice, a, state=ST.REPLIED, bumps_done=[7 * DAY], reply_after=8 * DAY)
        seed(s, alice, a, state=ST.REPLIED, bumps_done=[7 * DAY], reply_after=7 * DAY)
        seed(
            s,
            alice,
            a,
            state=ST.REPLIED,
            bumps_done=[7 * DAY],
            done_state=StageState.REMINDED,
            reply_after=9 * DAY,
        )
        seed(
            s,
            alice,
            a,
            state=ST.REPLIED,
            bumps_done=[7 * DAY],
            done_state=StageState.UNCONFIRMED,
            reply_after=10 * DAY,
        )
        # A, after bump 2 (15 days) and after bump 3 (22 days).
        seed(s, alice, a, state=ST.REPLIED, bumps_done=[7 * DAY, 14 * DAY], reply_after=15 * DAY)
        seed(
            s,
            alice,
            a,
            state=ST.REPLIED,
            bumps_done=[7 * DAY, 14 * DAY, 21 * DAY],
            reply_after=22 * DAY,
        )
        # A: never, cancelled, failed, waiting.
        seed(s, alice, a, state=ST.COMPLETED, bumps_done=[7 * DAY, 14 * DAY])
        seed(s, alice, a, state=ST.CANCELLED, bumps_done=[7 * DAY])
        seed(s, alice, a, state=ST.FAILED)
        seed(s, alice, a, state=ST.ACTIVE, bumps_done=[7 * DAY])
        # B: ended before replied_at existed. The "stopped" Event says when: 6 days, before
        # the bump of day 7 (were updated_at used, it would count as after bump 1) ...
        seed(
            s,
            alice,
            b,
            state=ST.REPLIED,
            bumps_done=[7 * DAY],
            stopped_event_after=6 * DAY,
            updated_after=30 * DAY,
            origin="rule 'Cold outreach' (#3)",
        )
        # ... and 10 days, after it.
        seed(
            s,
            alice,
            b,
            state=ST.REPLIED,
            bumps_done=[7 * DAY],
            stopped_event_after=10 * DAY,
            origin="rule 'Cold outreach' (#3)",
        )
        # B: no replied_at, no Event either: updated_at (touched by the stop) is the last resort.
        seed(
            s,
            alice,
            b,
            state=ST.REPLIED,
            updated_after=DAY,
            origin="plus-address alice+2w@work.test",
        )
        # Mallory: lots of everything.
        for _ in range(5):
            seed(s, mallory, m, state=ST.REPLIED, reply_after=HOUR)
            seed(s, mallory, m, state=ST.COMPLETED, bumps_done=[DAY])
            seed(s, mallory, m, state=ST.CANCELLED)
    return {"store": store, "alice": alice, "a": a, "b": b, "mallory": mallory, "m": m}


def _days(delta):
    return delta / DAY


def test_every_bucket_counted_per_account(seeded):
    with seeded["store"].session() as s:
        report = stats.user_report(s, seeded["alice"])
    a, b = report.accounts
    assert (a.account_id, a.scope) == (seeded["a"], "alice@example.test")
    assert dict(a.counts) == {
        "before": 2,
        "after1": 4,
        "after2": 1,
        "after3": 1,
        "never": 1,
        "cancelled": 1,
        "failed": 1,
        "waiting": 1,
    }
    assert a.ended == 9 and a.replied == 8
    assert a.share("before") == pytest.approx(2 / 9) and a.share("never") == pytest.approx(1 / 9)
    assert sum(a.share(k) for k in stats.ENDED_BUCKETS) == pytest.approx(1.0)
    assert a.buckets == ("before", "after1", "after2", "after3", "never")
    # 8 replies (even): 2 6 7 8 | 9 10 15 22 days -> 8.5 days.
    assert _days(a.median_reply) == 8.5
    assert stats.humanize(a.median_reply) == "8 days 12 hours"
    assert _days(a.median_before_bump) == 4  # 2 and 6
    assert _days(a.median_after_bump) == 9.5  # 7 8 9 10 15 22
    # B: the NULL replied_at fallbacks. Odd count: 1 6 10 days -> 6.
    assert dict(b.counts) == {"before": 2, "after1": 1}
    assert _days(b.median_reply) == 6


def test_overall_and_origins(seeded):
    with seeded["store"].session() as s:
        report = stats.user_report(s, seeded["alice"])
    o = report.overall
    assert o.scope == "All accounts"
    assert (o.ended, o.count("before"), o.count("after1"), o.count("never")) == (12, 4, 5, 1)
    assert (o.count("cancelled"), o.count("failed"), o.count("waiting")) == (1, 1, 1)
    # 11 replies: 1 2 6 6 7 [8] 9 10 10 15 22 days.
    assert _days(o.median_reply) == 8
    by_origin = {r.origin: r for r in report.origins}
    assert list(by_origin) == ["", "plus-address", "rule"]
    assert by_origin[""].scope == "By hand" and by_origin[""].ended == 9
    assert dict(by_origin["rule"].counts) == {"before": 1, "after1": 1}
    assert dict(by_origin["plus-address"].counts) == {"before": 1}


def test_one_users_numbers_never_include_anothers(seeded):
    with seeded["store"].session() as s:
        mallory = stats.user_report(s, seeded["mallory"])
        # Alice's account id with Mallory's user id: nothing of Alice's comes back.
        crossed = stats.user_report(s, seeded["mallory"], account_id=seeded["a"])
    assert dict(mallory.overall.counts) == {"before": 5, "never": 5, "cancelled": 5}
    assert [r.scope for r in mallory.accounts] == ["mallory@example.test"]
    assert crossed.overall.total == 0 and crossed.accounts == ()


def test_one_account_scope(seeded):
    with seeded["store"].session() as s:
        report = stats.user_report(s, seeded["alice"], account_id=seeded["b"])
    assert report.overall.scope == "alice@work.test"
    assert report.overall.account_id == seeded["b"] and report.accounts == ()
    assert dict(report.overall.counts) == {"before": 2, "after1": 1}
    assert [r.origin for r in report.origins] == ["plus-address", "rule"]


def test_a_user_with_nothing_ended(store):
    user, account = add_user_account(store, "new@example.test")
    with store.session() as s:
        seed(s, user, account, state=ST.ACTIVE)
    with store.session() as s:
        report = stats.user_report(s, user)
    assert report.overall.ended == 0 and report.overall.count("waiting") == 1
    assert report.overall.share("before") is None
    text = stats.describe(report)
    assert "no follow-ups have ended yet" in text
    assert "median time to reply" not in text


# -- command line -------------------------------------------------------------------------------


def test_cli_table_json_and_scopes(seeded_sqlite, cli):
    code, out, err = cli("stats", "--user", "alice@example.test")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "results for alice@example.test"
    head = lines[1]
    for column in ("scope", "ended", "before any bump", "after 1", "after 2", "after 3+"):
        assert column in head
    for column in ("never", "cancelled", "failed", "waiting", "median reply"):
        assert column in head
    overall = next(line for line in lines if line.startswith("All accounts"))
    assert overall.split()[2:5] == ["12", "4", "(33%)"]
    assert overall.endswith("8 days")
    # Before any bump: 1 2 6 6 days -> 4; after one: 7 8 9 10 10 15 22 -> 10.
    assert "median time to reply: 8 days (before any bump 4 days, after a bump 10 days)" in out
    assert any(line.startswith("alice@work.test") for line in lines)
    assert "by how the follow-up was made:" in out
    assert any(line.startswith("By hand") and line.split()[2] == "9" for line in lines)
    assert "mallory" not in out

    code, out, err = cli("stats", "--account", "alice@work.test", "--json")
    assert code == 0, err
    data = json.loads(out)
    [only] = data["users"]
    assert only["user"] == "alice@example.test"
    assert only["overall"]["scope"] == "alice@work.test"
    assert only["overall"]["counts"]["before"] == 2 and only["overall"]["ended"] == 3
    assert only["overall"]["shares"]["after1"] == pytest.approx(1 / 3)
    assert only["overall"]["median_seconds_to_reply"] == 6 * 86400

    code, out, err = cli("stats", "--json")  # every user, each on its own
    users = {u["user"]: u for u in json.loads(out)["users"]}
    assert users["mallory@example.test"]["overall"]["ended"] == 10
    assert users["alice@example.test"]["overall"]["ended"] == 12


def test_cli_errors_and_empty(cli, config):
    code, out, err = cli("stats")
    assert code == 0 and out.strip() == "no users yet"
    code, out, err = cli("stats", "--user", "nobody@example.test")
    assert code == 2 and "no user 'nobody@example.test'" in err
    store = Store.from_config(config)
    add_user_account(store, "fresh@example.test")
    store.dispose()
    code, out, err = cli("stats", "--user", "fresh@example.test")
    assert code == 0 and "(no follow-ups have ended yet)" in out
    code, out, err = cli("stats", "--user", "fresh@example.test", "--account", "999")
    assert code == 2 and "no account '999'" in err


# -- cost ---------------------------------------------------------------------------------------


def test_ten_thousand_followups_stay_fast(sqlite_store):
    """10,000 ended follow-ups with 20,000 stages and 30,000 events: one report in well under a
    second on SQLite (measured about 0.06 s; the bound leaves room for a busy machine)."""
    store = sqlite_store
    user, account = add_user_account(store, "busy@example.test")
    n = 10_000
    states = [ST.REPLIED, ST.REPLIED, ST.COMPLETED, ST.CANCELLED, ST.ACTIVE]
    with store.session() as s:
        s.execute(
            insert(FollowUp),
            [
                {
                    "user_id": user,
                    "account_id": account,
                    "token": f"t{i}",
                    "anchor_message_id": f"<bulk-{i}@example.test>",
                    "anchor_at": T0,
                    "clock_base_at": T0,
                    "state": states[i % 5],
                    # Half the replies before the column existed: the Event fallback is used.
                    "replied_at": T0 + (i % 9 + 1) * DAY if i % 10 == 0 else None,
                    "origin": "" if i % 2 else "rule 'R' (#1)",
                }
                for i in range(n)
            ],
        )
        ids = [i for (i,) in s.execute(FollowUp.__table__.select().with_only_columns(FollowUp.id))]
        s.execute(
            insert(Stage),
            [
                {
                    "followup_id": fid,
                    "position": pos,
                    "state": StageState.SENT,
                    "done_at": T0 + pos * 3 * DAY,
                }
                for fid in ids
                for pos in (1, 2)
            ],
        )
        s.execute(
            insert(Event),
            [
                {"user_id": user, "followup_id": fid, "kind": kind, "detail": "", "at": T0 + DAY}
                for fid in ids
                for kind in ("created", "sent", "stopped")
            ],
        )
    started = time.perf_counter()
    with store.session() as s:
        report = stats.user_report(s, user)
    elapsed = time.perf_counter() - started
    print(f"results for {n} follow-ups: {elapsed:.3f} s")
    assert report.overall.total == n
    assert report.overall.count("never") == n // 5
    assert report.overall.replied == 2 * n // 5
    assert elapsed < 2.0, f"{elapsed:.2f} s for {n} follow-ups"
