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

from tests.e2e.test_gmail_e2e import add_followup as gmail_add_followup
from tests.e2e.test_gmail_e2e import connect as gmail_connect
from tests.e2e.test_watcher_e2e import (
    add_followup,
    bumps_sent_by,
    connect,
    events_of,
    state_of,
    token_of,
)
from tests.support.mailboxes import WrappedMailbox
from watcher import followups as fu_ops
from watcher import schedule
from watcher.compose import bump_message_id
from watcher.engine import Engine
from watcher.errors import TransientError
from watcher.mailbox import MessageSummary
from watcher.models import Account, FollowUp, RecipientZone
from watcher.zone_scan import SCAN_EVERY

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


# -- learning a zone from mail in any thread ---------------------------------------------------


class CountingMailbox(WrappedMailbox):
    """The real IMAP mailbox, counting the zone scans (messages_from) the engine asks for."""

    scans: list[str] = []  # reset per test by the fixture below
    fail = False

    def messages_from(self, address, limit=20):
        CountingMailbox.scans.append(address)
        if CountingMailbox.fail:
            raise TransientError("the server dropped the connection")
        return self.inner.messages_from(address, limit)


@pytest.fixture
def scanning(engine, clock):
    CountingMailbox.scans, CountingMailbox.fail = [], False
    return Engine(engine.store, engine.config, clock=clock.now, mailbox_factory=CountingMailbox)


def last_monday_0730(now: datetime) -> datetime:
    """A Monday 07:30Z in the past week: +1w lands before Berlin's and New York's hours meet
    (08:30/09:30 in Berlin is 02:30/03:30 in New York)."""
    monday = (now - timedelta(days=now.weekday())).replace(hour=7, minute=30, second=0)
    return monday if monday < now else monday - timedelta(weeks=1)


def test_zone_learnt_from_mail_in_other_threads_moves_the_first_bump(
    mail_world, cli, scanning, clock
):
    user = berlin_user_in_recipient_mode(cli, mail_world)
    bob = mail_world.new_user("bob")
    # Bob wrote to Alice before, in unrelated threads, in winter (EST) and summer (EDT).
    for subject, date in [
        ("Lunch?", "Thu, 15 Jan 2026 10:00:00 -0500"),
        ("Slides", "Wed, 15 Jul 2026 10:00:00 -0400"),
    ]:
        mail_world.send(bob, [user], subject, "hi", date=date)
    anchor_at = last_monday_0730(clock.now())
    mid = mail_world.send(user, [bob], "Contract", "?", date=email.utils.format_datetime(anchor_at))
    fid = add_followup(cli, user, mid, "--after", "1w")
    berlin, new_york = schedule.SendingWindow("Europe/Berlin"), schedule.working_hours(NY.key)
    planned = due_of(scanning.store, fid)
    assert berlin.contains(planned) and not new_york.contains(planned)  # Alice's zone only

    scanning.run_pass()
    assert CountingMailbox.scans == [bob.email]
    due = due_of(scanning.store, fid)
    assert berlin.contains(due) and new_york.contains(due) and due > planned
    with scanning.store.session() as s:
        row = s.query(RecipientZone).filter_by(address=bob.email).one()
        assert (row.inferred_zone, len(row.observations), row.scanned_at) == (
            "America/New_York",
            2,
            clock.now(),
        )
    (moved,) = [d for k, d in events_of(scanning.store, fid) if k == "rescheduled"]
    assert f"{bob.email}'s time zone, America/New_York (public holidays of US)" in moved
    assert "learnt from 2 of their messages" in moved
    assert fu_ops.format_local(due, "Europe/Berlin") in moved
    code, out, _ = cli("recipient", "list", "--account", user.email)
    assert code == 0 and f"{bob.email}  America/New_York  (Date headers of 2 messages" in out
    assert "holidays US" in out

    # Known now: later passes and new follow-ups to Bob read no more of his mail.
    again = mail_world.send(user, [bob], "Contract, part 2", "?")
    add_followup(cli, user, again, "--after", "1w")
    scanning.run_pass()
    assert CountingMailbox.scans == [bob.email]


def test_a_due_bump_is_held_for_the_recipient_s_hours_once_their_zone_is_learnt(
    mail_world, cli, scanning, clock
):
    """A follow-up made in "mine" mode, due at 09:00 Berlin; the user then switches to the
    recipient's hours. Right before it goes out, Bob's zone is learnt from his other mail
    and the bump waits for New York's morning instead of landing at 03:00 there."""
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    window = ["--timezone", "Europe/Berlin", "--days", "mon-fri", "--hours", "09:00-17:00"]
    assert cli("defaults", "--user", user.email, *window)[0] == 0
    bob = mail_world.new_user("bob")
    mail_world.send(bob, [user], "Lunch?", "hi", date="Thu, 15 Jan 2026 10:00:00 -0500")
    anchor_at = last_monday_0730(clock.now())
    mid = mail_world.send(user, [bob], "Contract", "?", date=email.utils.format_datetime(anchor_at))
    fid = add_followup(cli, user, mid, "--after", "1w")
    scanning.run_pass()
    assert CountingMailbox.scans == []  # "mine" mode: nobody's mail is read
    assert cli("defaults", "--user", user.email, *window, "--window", "recipient")[0] == 0

    planned = due_of(scanning.store, fid)
    clock.current = planned
    assert scanning.run_pass().sent == 0
    assert CountingMailbox.scans == [bob.email]
    held = due_of(scanning.store, fid)
    assert held > planned and schedule.working_hours(NY.key).contains(held)
    assert any(
        k == "rescheduled" and "learnt from 1 of their messages:" in d
        for k, d in events_of(scanning.store, fid)
    )
    clock.current = held
    assert scanning.run_pass().sent == 1
    assert CountingMailbox.scans == [bob.email]


def test_a_correspondent_who_never_wrote_is_scanned_once_a_month_at_most(
    mail_world, cli, scanning, clock
):
    user = berlin_user_in_recipient_mode(cli, mail_world)
    carol = mail_world.new_user("carol")
    mid = mail_world.send(user, [carol], "Hello", "?")
    fid = add_followup(cli, user, mid, "--after", "2w")
    planned = due_of(scanning.store, fid)
    scanning.run_pass()
    assert CountingMailbox.scans == [carol.email]
    assert due_of(scanning.store, fid) == planned  # nothing learnt, nothing moved
    assert not [k for k, _ in events_of(scanning.store, fid) if k == "rescheduled"]
    for _ in range(3):  # passes are not scans
        clock.advance(hours=1)
        scanning.run_pass()
    assert CountingMailbox.scans == [carol.email]
    clock.advance(days=SCAN_EVERY.days + 1)  # the follow-up is due again and a month has gone
    scanning.run_pass()
    assert CountingMailbox.scans == [carol.email, carol.email]


@pytest.mark.now("2026-11-24T10:00:00+01:00")  # a Tuesday morning: due a week later, in the window
def test_a_failed_scan_is_logged_and_never_faults_the_account(
    mail_world, cli, scanning, clock, caplog
):
    user = berlin_user_in_recipient_mode(cli, mail_world)
    dave = mail_world.new_user("dave")
    mid = mail_world.send(user, [dave], "Hello", "?")
    fid = add_followup(cli, user, mid, "--after", "1w")
    planned = due_of(scanning.store, fid)
    CountingMailbox.fail = True
    report = scanning.run_pass()
    assert report.account_faults == 0 and report.faults == []
    assert CountingMailbox.scans and set(CountingMailbox.scans) == {dave.email}
    assert f"reading mail from {dave.email} failed" in caplog.text
    with scanning.store.session() as s:
        account = s.query(Account).filter_by(email=user.email).one()
        assert account.status == "ok"
        assert s.query(RecipientZone).filter_by(address=dave.email).first() is None
        assert s.get(FollowUp, fid).needs_check is False  # the rest of the pass ran
    assert due_of(scanning.store, fid) == planned
    tries = len(CountingMailbox.scans)
    scanning.run_pass()  # not again at once
    assert len(CountingMailbox.scans) == tries
    CountingMailbox.fail = False
    clock.advance(days=1)
    scanning.run_pass()  # a later try, while the follow-up waits
    assert len(CountingMailbox.scans) == tries  # only new or due follow-ups are worth a scan
    clock.advance(days=7)
    scanning.run_pass()  # due: scanned before it is planned again
    assert len(CountingMailbox.scans) == tries + 1


# -- business days skip the recipient's public holidays too ------------------------------------


def Z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("user_country", "their_zone", "mode", "anchor", "delay", "expected"),
    [
        # Thanksgiving (Thu 2026-11-26) is a US holiday, not a German one.
        ("DE", NY.key, "mine", "2026-11-25 14:00", "1bd", "2026-11-27 14:00"),
        ("DE", None, "mine", "2026-11-25 14:00", "1bd", "2026-11-26 14:00"),
        ("DE", NY.key, "mine", "2026-11-25 14:00", "1d", "2026-11-26 14:00"),  # not bd
        # Republic Day (Mon 2026-01-26) in India; the user (Berlin, DE) works that day.
        ("DE", "Asia/Kolkata", "mine", "2026-01-23 10:00", "1bd", "2026-01-27 10:00"),
        # The user's own holiday still counts: Ascension Day (Thu 2026-05-14) in Germany is a
        # working day in New York.
        ("DE", NY.key, "mine", "2026-05-13 10:00", "1bd", "2026-05-15 10:00"),
        # Recipient's hours: Thanksgiving skipped, and the bump lands in both working days.
        ("DE", NY.key, "recipient", "2026-11-25 14:00", "1bd", "2026-11-27 14:00"),
        # Australia Day (Mon 2026-01-26) in Sydney: the due day moves to Tuesday.
        ("DE", "Australia/Sydney", "mine", "2026-01-23 10:00", "1bd", "2026-01-27 10:00"),
        # Etc/UTC names no country: only the user's calendar.
        ("DE", "Etc/UTC", "mine", "2026-11-25 14:00", "1bd", "2026-11-26 14:00"),
    ],
)
def test_business_days_skip_both_countries_holidays(
    engine, user_country, their_zone, mode, anchor, delay, expected
):
    store = engine.store
    with store.session() as s:
        user = store.get_or_create_user(s, "alice@example.test")
        user.timezone, user.holiday_country, user.window_mode = "Europe/Berlin", user_country, mode
        account = store.add_account(
            s, user, kind="imap", email=user.email, settings={}, secret="x", now=Z(anchor)
        )
        if their_zone:
            store.set_recipient_zone(s, user.id, "bob@example.test", their_zone, Z(anchor))
        followup = fu_ops.create_followup(
            store,
            s,
            account=account,
            anchor=MessageSummary(
                ref="Sent/1/1",
                message_id="<a@example.test>",
                from_addr=user.email,
                to=("bob@example.test",),
                date=Z(anchor),
            ),
            stages=[fu_ops.StageSpec(delay=schedule.parse_delay(delay))],
            now=Z(anchor),
        )
        assert followup.due_at == Z(expected)


def test_on_gmail_the_zone_is_learnt_the_same_way(google, gcli, gengine, clock):
    user = google.new_user("alice")
    gmail_connect(gcli, google, user)
    code, _, err = gcli(
        "defaults", "--user", user.email, "--timezone", "Europe/Berlin", "--window", "recipient"
    )
    assert code == 0, err
    bob = google.new_user("bob")
    google.send(bob, [user], "Lunch?", "hi", date="Thu, 15 Jan 2026 10:00:00 -0500")
    google.send(bob, [user], "Slides", "hi", date="Wed, 15 Jul 2026 10:00:00 -0400")
    anchor_at = last_monday_0730(clock.now())
    mid = google.send(user, [bob], "Contract", "?", date=email.utils.format_datetime(anchor_at))
    fid = gmail_add_followup(gcli, user, mid, "--after", "1w")
    planned = due_of(gengine.store, fid)
    gengine.run_pass()
    due = due_of(gengine.store, fid)
    assert due > planned and schedule.working_hours(NY.key).contains(due)
    assert schedule.SendingWindow("Europe/Berlin").contains(due)
    (moved,) = [d for k, d in events_of(gengine.store, fid) if k == "rescheduled"]
    assert "America/New_York" in moved and "learnt from 2 of their messages" in moved
