"""End to end: a user drives the CLI; the watcher runs against a real Dovecot and SMTP server.

Alice is the Replywatch user; Bob is the person she is waiting on. The SMTP sink delivers into
Bob's Dovecot INBOX, so Bob can really reply. Time moves with an injected clock, never a sleep.
"""

from __future__ import annotations

import email.utils
from datetime import timedelta

import pytest

from tests.support.mailboxes import WrappedMailbox
from watcher.compose import bump_message_id
from watcher.engine import Engine
from watcher.models import FollowUp
from watcher.store import Store


@pytest.fixture
def alice(mail_world, cli):
    """Alice's account connected through the CLI, with a window that is always open."""
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


def add_imap(cli, world, user, password, *more_args, **setting_overrides):
    """`account add-imap` as a user types it, against the test servers; the password (if any)
    comes through the environment, as the CLI wants it."""
    settings, _ = world.imap_settings(user)
    settings.update(setting_overrides)
    return cli(
        "account",
        "add-imap",
        "--email",
        user.email,
        "--imap-host",
        settings["imap_host"],
        "--imap-port",
        str(settings["imap_port"]),
        "--imap-security",
        "none",
        "--smtp-host",
        settings["smtp_host"],
        "--smtp-port",
        str(settings["smtp_port"]),
        "--smtp-security",
        "none",
        *more_args,
        env={"REPLYWATCH_IMAP_PASSWORD": password} if password is not None else {},
    )


def connect(cli, world, user):
    code, out, err = add_imap(cli, world, user, world.imap_settings(user)[1], "--name", user.name)
    assert code == 0, err
    return out


def add_followup(cli, user, message_id, *args):
    code, out, err = cli(
        "followup", "add", "--account", user.email, "--message-id", message_id, *args
    )
    assert code == 0, err
    return int(out.split()[1].rstrip(":"))


def state_of(store: Store, followup_id: int) -> str:
    with store.session() as s:
        return s.get(FollowUp, followup_id).state


def events_of(store: Store, followup_id: int) -> list[tuple[str, str]]:
    with store.session() as s:
        return [(e.kind, e.detail) for e in store.events_for(s, followup_id)]


def token_of(store: Store, followup_id: int) -> str:
    with store.session() as s:
        return s.get(FollowUp, followup_id).token


def test_reply_stops_the_followup_and_no_bump_is_ever_sent(mail_world, alice, cli, engine, clock):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Proposal for Q1", "Shall we go ahead?")
    fid = add_followup(cli, alice, mid, "--after", "2w")
    engine.run_pass()  # baseline: nothing has happened yet
    assert state_of(engine.store, fid) == "active"

    reply = mail_world.send(
        bob, [alice], "Re: Proposal for Q1", "Yes!", in_reply_to=mid, references=[mid]
    )
    report = engine.run_pass()
    assert report.stopped == 1
    assert state_of(engine.store, fid) == "replied"
    assert ("stopped", f"stopped: reply from {bob.email}, message {reply}") in events_of(
        engine.store, fid
    )

    clock.advance(days=30)
    engine.run_pass()
    assert bumps_sent_by(mail_world, alice) == []
    code, out, _ = cli("followup", "show", str(fid))
    assert code == 0
    assert "replied" in out and f"reply from {bob.email}" in out


def test_reply_that_only_keeps_references_still_stops(mail_world, alice, cli, engine):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Contract", "See attached")
    fid = add_followup(cli, alice, mid, "--after", "1w")
    engine.run_pass()
    mail_world.send(bob, [alice], "Contract (signed)", "Done", references=[mid])
    engine.run_pass()
    assert state_of(engine.store, fid) == "replied"


def test_reply_before_the_first_pass_is_found_by_reading_the_thread(mail_world, alice, cli, engine):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Lunch?", "Thursday?")
    mail_world.send(bob, [alice], "Re: Lunch?", "Sure", in_reply_to=mid, references=[mid])
    fid = add_followup(cli, alice, mid, "--after", "3d")
    engine.run_pass()
    assert state_of(engine.store, fid) == "replied"


OOO = """\
From: Bob <{bob}>
To: {alice}
Subject: Automatic reply: {subject}
Date: {date}
Message-ID: <ooo-{n}@example.test>
In-Reply-To: {mid}
References: {mid}
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset=utf-8

I am out of the office until Monday with limited access to e-mail.
"""

BOUNCE = """\
From: Mail Delivery System <MAILER-DAEMON@mx.example.test>
To: {alice}
Subject: Undelivered Mail Returned to Sender
Date: {date}
Message-ID: <bounce-{n}@mx.example.test>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

This is the mail system at host mx.example.test. Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test

Final-Recipient: rfc822; {bob}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{bob}>: Recipient address rejected: User unknown

--b1
Content-Type: text/rfc822-headers

From: {alice}
To: {bob}
Subject: {subject}
Message-ID: {mid}

--b1--
"""


def test_out_of_office_does_not_stop_and_the_bump_goes_out_threaded(
    mail_world, alice, cli, engine, clock
):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Invoice 42", "Could you confirm?")
    fid = add_followup(cli, alice, mid, "--after", "1w", "--text", "Hi {first_name}, any news?")
    engine.run_pass()
    mail_world.deliver(
        alice,
        OOO.format(
            bob=bob.email, alice=alice.email, subject="Invoice 42", mid=mid, n=1, date=_date()
        ),
    )
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert any(
        kind == "not_reply" and "auto-reply" in detail
        for kind, detail in events_of(engine.store, fid)
    )

    clock.advance(days=7, minutes=1)
    report = engine.run_pass()
    assert report.sent == 1
    bump_id = bump_message_id(token_of(engine.store, fid), 1, alice.email)
    assert mail_world.sink.count(bump_id) == 1
    (got,) = [m for m in mail_world.messages(bob) if m["Message-ID"] == bump_id]
    assert got["Subject"] == "Re: Invoice 42"
    assert got["In-Reply-To"] == mid
    assert mid in got["References"]
    assert email.utils.parseaddr(got["From"])[1] == alice.email
    assert got.get_content().startswith("Hi Bob, any news?")
    assert mail_world.count(alice, "Sent", bump_id) == 1
    assert state_of(engine.store, fid) == "completed"

    engine.run_pass()
    clock.advance(days=30)
    engine.run_pass()
    assert mail_world.sink.count(bump_id) == 1


def test_bounce_stops_the_followup_as_failed(mail_world, alice, cli, engine, clock):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Hello", "Hi")
    fid = add_followup(cli, alice, mid, "--after", "3d")
    engine.run_pass()
    mail_world.deliver(
        alice,
        BOUNCE.format(
            bob=bob.email, alice=alice.email, subject="Hello", mid=mid, n=1, date=_date()
        ),
    )
    engine.run_pass()
    assert state_of(engine.store, fid) == "failed"
    kinds = [k for k, _ in events_of(engine.store, fid)]
    assert "failed" in kinds
    clock.advance(days=10)
    engine.run_pass()
    assert bumps_sent_by(mail_world, alice) == []


def test_silence_sends_exactly_one_bump_per_stage_each_threaded(
    mail_world, alice, cli, engine, clock
):
    bob = mail_world.new_user("bob")
    carol = mail_world.new_user("carol")
    mid = mail_world.send(alice, [bob], "Intro", "Meet Carol", cc=[carol])
    fid = add_followup(cli, alice, mid, "--after", "1w", "--stage", "1w")
    token = token_of(engine.store, fid)
    first, second = (bump_message_id(token, n, alice.email) for n in (1, 2))

    engine.run_pass()
    clock.advance(days=6)
    engine.run_pass()
    assert mail_world.sink.count(first) == 0  # not due yet

    clock.advance(days=1, minutes=1)
    engine.run_pass()
    engine.run_pass()  # a second pass at the same moment sends nothing more
    assert mail_world.sink.count(first) == 1
    (bump1,) = [m for m in mail_world.sink.messages if m.message_id == first]
    assert sorted(bump1.rcpt_tos) == sorted([bob.email, carol.email])
    assert state_of(engine.store, fid) == "active"

    clock.advance(days=7, minutes=1)
    engine.run_pass()
    engine.run_pass()
    assert mail_world.sink.count(second) == 1
    (got,) = [m for m in mail_world.messages(bob) if m["Message-ID"] == second]
    assert got["In-Reply-To"] == first  # the second bump answers the first
    assert got["References"].split() == [mid, first]
    assert got["Subject"] == "Re: Intro"
    assert state_of(engine.store, fid) == "completed"
    assert [k for k, _ in events_of(engine.store, fid)].count("sent") == 2
    assert mail_world.count(alice, "Sent", first) == 1
    assert mail_world.count(alice, "Sent", second) == 1


def test_remind_only_brings_the_thread_back_and_mails_nobody(mail_world, alice, cli, engine, clock):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Quote", "Price?")
    fid = add_followup(cli, alice, mid, "--after", "3d", "--remind-only")
    engine.run_pass()
    clock.advance(days=3, minutes=1)
    report = engine.run_pass()
    assert report.reminded == 1
    assert {"\\Flagged"} <= mail_world.flags(alice, "INBOX", mid)
    assert "\\Seen" not in mail_world.flags(alice, "INBOX", mid)
    assert bumps_sent_by(mail_world, alice) == []
    assert state_of(engine.store, fid) == "completed"


def test_own_message_in_the_thread_restarts_the_clock(mail_world, alice, cli, engine, clock):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Plan", "v1")
    fid = add_followup(cli, alice, mid, "--after", "1w")
    engine.run_pass()
    clock.advance(days=5)
    mail_world.send(
        alice,
        [bob],
        "Re: Plan",
        "v2 attached",
        in_reply_to=mid,
        references=[mid],
        date=email.utils.format_datetime(clock.now()),
    )
    engine.run_pass()
    assert any(k == "own_message" for k, _ in events_of(engine.store, fid))
    clock.advance(days=3)  # 8 days after the first message, 3 after the second
    engine.run_pass()
    bump = bump_message_id(token_of(engine.store, fid), 1, alice.email)
    assert mail_world.sink.count(bump) == 0
    clock.advance(days=4, minutes=1)
    engine.run_pass()
    assert mail_world.sink.count(bump) == 1


def test_reply_arriving_between_claim_and_send_wins(mail_world, alice, cli, config, clock):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Deal", "Ready to sign?")
    fid = add_followup(cli, alice, mid, "--after", "1w")

    class ReplyJustInTime(WrappedMailbox):
        """The real mailbox; Bob's reply lands right after the follow-up was claimed."""

        replied = False

        def thread(self, key):
            if clock.now() > clock.start + timedelta(days=7) and not self.replied:
                self.replied = True
                mail_world.send(bob, [alice], "Re: Deal", "Signed.", in_reply_to=mid)
            return self.inner.thread(key)

    store = Store.from_config(config)
    engine = Engine(store, config, clock=clock.now, mailbox_factory=ReplyJustInTime)
    engine.run_pass()
    clock.advance(days=7, minutes=1)
    report = engine.run_pass()
    assert report.sent == 0 and report.stopped == 1
    assert state_of(store, fid) == "replied"
    assert bumps_sent_by(mail_world, alice) == []


@pytest.mark.now("2026-11-20T18:31:00+01:00")  # a minute after the message was sent
def test_window_moves_a_friday_evening_bump_to_monday_morning(mail_world, cli, engine, clock):
    alice = mail_world.new_user("alice")
    connect(cli, mail_world, alice)
    code, _, err = cli(
        "defaults", "--user", alice.email, "--timezone", "Europe/Berlin", "--hours", "09:00-17:00"
    )
    assert code == 0, err
    bob = mail_world.new_user("bob")
    # Sent Friday 2026-11-20 18:30 Berlin; 1 week later is Friday evening, outside the window.
    sent = "Fri, 20 Nov 2026 18:30:00 +0100"
    mid = mail_world.send(alice, [bob], "Weekend plans", "?", date=sent)
    fid = add_followup(cli, alice, mid, "--after", "1w")
    with engine.store.session() as s:
        due = s.get(FollowUp, fid).due_at
    assert due.isoformat() == "2026-11-30T08:00:00+00:00"  # Monday 09:00 Berlin


def bumps_sent_by(world, user) -> list:
    """What Replywatch submitted for this user (its Message-IDs start with "<rw.")."""
    return [
        m
        for m in world.sink.messages
        if m.mail_from == user.email and m.message_id.startswith("<rw.")
    ]


def _date() -> str:
    return email.utils.formatdate(localtime=False)


def test_after_downtime_overdue_bumps_are_spread_not_burst(mail_world, alice, cli, engine, clock):
    bob = mail_world.new_user("bob")
    fids = []
    for i in range(3):
        mid = mail_world.send(alice, [bob], f"Overdue {i}", "?")
        fids.append(add_followup(cli, alice, mid, "--after", "1d"))
    engine.run_pass()
    clock.advance(days=2)  # the watcher was down: all three are a day late
    assert engine.run_pass().sent == 1
    spacing = timedelta(seconds=engine.config.overdue_spacing_seconds)
    clock.advance(seconds=spacing.total_seconds() - 1)
    assert engine.run_pass().sent == 0
    clock.advance(seconds=1)
    assert engine.run_pass().sent == 1
    clock.advance(seconds=spacing.total_seconds())
    assert engine.run_pass().sent == 1
    assert len(bumps_sent_by(mail_world, alice)) == 3
    for fid in fids:
        assert any(k == "rescheduled" for k, _ in events_of(engine.store, fid))


def test_followup_on_a_message_older_than_the_delay_is_due_now(
    mail_world, alice, cli, engine, clock
):
    bob = mail_world.new_user("bob")
    old = email.utils.format_datetime(engine.clock() - timedelta(days=10))
    mid = mail_world.send(alice, [bob], "Old one", "?", date=old)
    fid = add_followup(cli, alice, mid, "--after", "1w")
    (created,) = [d for k, d in events_of(engine.store, fid) if k == "created"]
    assert "older than the delay, so it is due now" in created
    clock.advance(minutes=1)  # the CLI ran on the wall clock, a moment after the fake one
    assert engine.run_pass().sent == 1
