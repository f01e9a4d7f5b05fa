"""Results end to end: real follow-ups on Dovecot, stopped by real replies or run out by the
engine (injected clock), then read back with `python -m watcher stats` as a user would."""

from __future__ import annotations

import email.utils
import json

from tests.e2e.test_watcher_e2e import add_followup, connect, state_of


def _date(clock) -> str:
    """A Date header at the injected clock's time: replies written "now" in the test's time."""
    return email.utils.formatdate(clock.now().timestamp(), localtime=False)


def test_stats_report_what_the_engine_recorded(mail_world, cli, engine, clock):
    alice, bob, carol = (mail_world.new_user(n) for n in ("alice", "bob", "carol"))
    connect(cli, mail_world, alice)
    code, _, err = cli("defaults", "--user", alice.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    one = mail_world.send(alice, [bob], "One", "?", date=_date(clock))
    two = mail_world.send(alice, [carol], "Two", "?", date=_date(clock))
    three = mail_world.send(alice, [bob], "Three", "?", date=_date(clock))
    f1 = add_followup(cli, alice, one, "--after", "3d")
    f2 = add_followup(cli, alice, two, "--after", "3d", "--stage", "3d")
    f3 = add_followup(cli, alice, three, "--after", "3d")
    engine.run_pass()

    clock.advance(days=1)  # Bob answers "One" before any bump.
    mail_world.send(
        bob, [alice], "Re: One", "Yes", in_reply_to=one, references=[one], date=_date(clock)
    )
    engine.run_pass()
    clock.advance(days=2, minutes=5)  # the first bumps of "Two" and "Three" go out
    engine.run_pass()
    clock.advance(days=2)  # Carol answers "Two" after its first bump.
    mail_world.send(
        carol, [alice], "Re: Two", "Sorry!", in_reply_to=two, references=[two], date=_date(clock)
    )
    engine.run_pass()
    assert [state_of(engine.store, f) for f in (f1, f2, f3)] == ["replied", "replied", "completed"]

    code, out, err = cli("stats", "--user", alice.email, "--json")
    assert code == 0, err
    [mine] = json.loads(out)["users"]
    overall = mine["overall"]
    assert overall["ended"] == 3
    assert {k: v for k, v in overall["counts"].items() if v} == {
        "before": 1,
        "after1": 1,
        "never": 1,
    }
    # Replies 1 day and 5 days 5 minutes after the messages went out: the median is between.
    day = 86400
    assert overall["median_seconds_to_reply_before_bump"] == day
    assert overall["median_seconds_to_reply_after_bump"] == 5 * day + 300
    assert overall["median_seconds_to_reply"] == (day + 5 * day + 300) / 2
    assert [o["scope"] for o in mine["origins"]] == ["By hand"]

    code, out, err = cli("stats", "--user", alice.email)
    assert code == 0, err
    assert "median time to reply: 3 days 2 minutes" in out
