"""End to end: bumps land in the recipient's working hours and look sent by a person.

Alice (Europe/Berlin, Mon-Fri 09:00-17:00) waits on Bob. Bob's Date headers tell where he lives;
the watcher learns it while judging his mail, and with `defaults --window recipient` Alice's
bumps go out when both are at work. Jitter and the per-account cap run on the injected clock.
"""

from __future__ import annotations

import contextlib
import email.utils
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.test_watcher_e2e import (
    add_followup,
    bumps_sent_by,
    connect,
    events_of,
    state_of,
    token_of,
)
from watcher import schedule
from watcher.compose import bump_message_id
from watcher.engine import Engine
from watcher.models import FollowUp, RecipientZone

NY = ZoneInfo("America/New_York")


@pytest.fixture
def alice(mail_world, cli):
    """Alice's account with a window that is always open (as in test_watcher_e2e)."""
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


def berlin_user_in_recipient_mode(cli, mail_world):
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, out, err = cli(
        "defaults",
        "--user",
        user.email,
        "--timezone",
        "Europe/Berlin",
        "--days",
        "mon-fri",
        "--hours",
        "09:00-17:00",
        "--window",
        "recipient",
    )
    assert code == 0, err
    assert "recipient's working hours" in out
    return user


def due_of(store, followup_id) -> datetime:
    with store.session() as s:
        return s.get(FollowUp, followup_id).due_at


def test_bob_s_zone_is_learnt_from_his_mail_and_bumps_keep_his_hours(mail_world, cli, engine):
    user = berlin_user_in_recipient_mode(cli, mail_world)
    bob = mail_world.new_user("bob")
    first = mail_world.send(user, [bob], "Quick question", "?")
    add_followup(cli, user, first, "--after", "1w")
    engine.run_pass()
    # Bob answers from New York: his Date header carries -0500 (EST) in November.
    bob_date = email.utils.format_datetime(datetime.now(UTC).astimezone(NY))
    mail_world.send(
        bob, [user], "Re: Quick question", "Sure", in_reply_to=first, references=[first],
        date=bob_date,
    )  # fmt: skip
    engine.run_pass()
    with engine.store.session() as s:
        (row,) = s.query(RecipientZone).all()
        assert (row.address, row.inferred_zone) == (bob.email, "America/New_York")
    code, out, _ = cli("recipient", "list", "--account", user.email)
    assert code == 0
    assert f"{bob.email}  America/New_York  (Date headers of 1 message" in out

    # A new follow-up to Bob: due in Berlin's 09-17 and New York's 09-17 (14-16Z in winter).
    second = mail_world.send(user, [bob], "Next steps", "?")
    fid = add_followup(cli, user, second, "--after", "1w")
    due = due_of(engine.store, fid)
    berlin = schedule.SendingWindow("Europe/Berlin")
    assert berlin.contains(due) and schedule.working_hours("America/New_York").contains(due)

    # Alice knows better: Bob moved to Auckland. Berlin's and Auckland's working hours never
    # meet (in any season), so the bump keeps Alice's window and the history says why.
    code, out, err = cli(
        "recipient", "zone", "--account", user.email, "--address", bob.email, "--zone",
        "Pacific/Auckland",
    )  # fmt: skip
    assert code == 0, err
    assert "Pacific/Auckland (set by you)" in out
    third = mail_world.send(user, [bob], "Auckland?", "?")
    fid3 = add_followup(cli, user, third, "--after", "1w")
    assert berlin.contains(due_of(engine.store, fid3))
    (created,) = [d for k, d in events_of(engine.store, fid3) if k == "created"]
    assert "do not meet within 14 days" in created and bob.email in created

    code, out, err = cli("recipient", "zone", "--account", user.email, "--address", bob.email,
                         "--zone", "Mars/Olympus")  # fmt: skip
    assert code == 2 and "not a time zone" in err
    code, out, _ = cli(
        "recipient", "zone", "--account", user.email, "--address", bob.email, "--zone", "auto"
    )
    assert code == 0 and "America/New_York (Date headers of 1 message)" in out


def test_own_mail_teaches_nothing(mail_world, alice, cli, engine):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Hello", "?")
    add_followup(cli, alice, mid, "--after", "1w")
    engine.run_pass()
    mail_world.send(alice, [bob], "Re: Hello", "also", in_reply_to=mid, references=[mid])
    engine.run_pass()
    code, out, _ = cli("recipient", "list", "--account", alice.email)
    assert code == 0 and "no correspondents known yet" in out


def test_jitter_is_inside_the_window_and_a_retry_after_a_crash_keeps_the_send_time(
    mail_world, alice, cli, engine, clock, monkeypatch
):
    jittery = engine.config.with_overrides(send_jitter_minutes=20)
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Offer", "?")
    fid = add_followup(cli, alice, mid, "--after", "1d", "--stage", "1d")
    token = token_of(engine.store, fid)
    offset = schedule.jitter(f"{token}:2", 20)
    engine.run_pass()
    clock.advance(days=1, minutes=1)
    sent_at = clock.now()

    # The watcher dies right after the server took stage 1, before recording it.
    doomed = Engine(engine.store, jittery, clock=clock.now)
    real_add_event = doomed.store.add_event

    def crash_on_sent(s, **kw):
        if kw.get("kind") == "sent":
            raise SystemExit("killed")
        return real_add_event(s, **kw)

    monkeypatch.setattr(doomed.store, "add_event", crash_on_sent)
    with contextlib.suppress(SystemExit):
        doomed.run_pass()
    monkeypatch.undo()
    first = bump_message_id(token, 1, alice.email)
    assert mail_world.sink.count(first) == 1
    with engine.store.session() as s:
        assert s.get(FollowUp, fid).stage(1).state == "sending"

    # A fresh watcher at the same moment finds it in Sent and schedules stage 2: the offset is
    # the stage's own, not a new draw.
    Engine(engine.store, jittery, clock=clock.now).run_pass()
    assert mail_world.sink.count(first) == 1
    due = due_of(engine.store, fid)
    assert due == sent_at + timedelta(days=1) + offset
    assert timedelta(0) <= offset <= timedelta(minutes=20)
    # Computed again (another retry), the time is the same.
    with engine.store.session() as s:
        f = s.get(FollowUp, fid)
        again = Engine(engine.store, jittery, clock=clock.now)._plan_stage(
            s, f, f.stage(2), sent_at, f.account.user
        )
    assert again.at == due


def test_no_more_than_the_cap_per_minute_the_rest_wait_not_dropped(
    mail_world, alice, cli, engine, clock
):
    capped = Engine(
        engine.store, engine.config.with_overrides(max_bumps_per_minute=2), clock=clock.now
    )
    bob = mail_world.new_user("bob")
    fids = []
    for i in range(3):
        mid = mail_world.send(alice, [bob], f"Batch {i}", "?")
        fids.append(add_followup(cli, alice, mid, "--after", "1d"))
    capped.run_pass()
    clock.advance(days=1, minutes=1)
    assert capped.run_pass().sent == 2
    waiting = [f for f in fids if state_of(engine.store, f) == "active"]
    assert len(waiting) == 1
    assert due_of(engine.store, waiting[0]) == clock.now() + timedelta(minutes=1)
    assert any(
        k == "rescheduled" and "2 bumps already went out" in d
        for k, d in events_of(engine.store, waiting[0])
    )
    assert capped.run_pass().sent == 0  # same minute: still waiting
    clock.advance(seconds=59)
    assert capped.run_pass().sent == 0
    clock.advance(seconds=1)
    assert capped.run_pass().sent == 1
    assert len(bumps_sent_by(mail_world, alice)) == 3
    assert all(state_of(engine.store, f) == "completed" for f in fids)
