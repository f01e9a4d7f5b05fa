"""Reply judgement end to end: real messages of every kind land in Alice's Dovecot INBOX, the
watcher reads them through IMAP (headers, and the body only where a verdict needs it), and the
follow-up reacts the way a careful person would. Time moves with the injected clock.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.test_watcher_e2e import (
    add_followup,
    bumps_sent_by,
    connect,
    events_of,
    state_of,
    token_of,
)
from watcher.compose import bump_message_id
from watcher.models import FollowUp, User


@pytest.fixture
def alice(mail_world, cli):
    """Alice connected through the CLI, in UTC, with a sending window that is always open."""
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


def _date(when: datetime) -> str:
    return email.utils.format_datetime(when.astimezone(UTC))


def due_at(store, followup_id: int) -> datetime | None:
    with store.session() as s:
        return s.get(FollowUp, followup_id).due_at


def set_ooo_policy(store, address: str, policy: str) -> None:
    with store.session() as s:
        s.query(User).filter_by(email=address).one().ooo_policy = policy


def start(mail_world, alice, cli, engine, subject="Proposal", after="3d", *extra):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], subject, "Shall we go ahead?")
    fid = add_followup(cli, alice, mid, "--after", after, *extra)
    engine.run_pass()  # baseline: the thread is read once
    assert state_of(engine.store, fid) == "active"
    return bob, mid, fid


OOO = """\
From: Bob Martin <{bob}>
To: {alice}
Subject: Automatic reply: Proposal
Date: {date}
Message-ID: <ooo-{n}@partner.example>
In-Reply-To: {mid}
References: {mid}
Thread-Topic: Proposal
Auto-Submitted: auto-generated
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: {bob}
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="_000_ooo_"

--_000_ooo_
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Thank you for your message. I am out of the office and back on {back}.=0A=
For urgent matters please contact my colleague.

--_000_ooo_
Content-Type: text/html; charset="utf-8"

<html><body><p>Thank you for your message. I am out of the office.</p></body></html>
--_000_ooo_--
"""

DSN = """\
Return-Path: <>
Date: {date}
From: MAILER-DAEMON@mx.example.test (Mail Delivery System)
Subject: {subject}
To: {alice}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Message-Id: <dsn-{n}@mx.example.test>
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4Zk9pQ1xYz.{n}/mx.example.test"

--4Zk9pQ1xYz.{n}/mx.example.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.test.
{human}

--4Zk9pQ1xYz.{n}/mx.example.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test
Arrival-Date: {date}

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: {action}
Status: {status}
Diagnostic-Code: {diag}

--4Zk9pQ1xYz.{n}/mx.example.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: {alice}
To: {rcpt}
Subject: Proposal
Message-ID: {mid}

--4Zk9pQ1xYz.{n}/mx.example.test--
"""


def dsn(alice, rcpt, mid, when, *, delayed=False, n=1):
    if delayed:
        return DSN.format(
            subject="Delayed Mail (still being retried)",
            human="# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
            action="delayed",
            status="4.4.1",
            diag="X-Postfix; connect to mx.partner.example[203.0.113.25]:25: Connection timed out",
            alice=alice.email,
            rcpt=rcpt,
            mid=mid,
            date=_date(when),
            n=n,
        )
    return DSN.format(
        subject="Undelivered Mail Returned to Sender",
        human="I'm sorry to have to inform you that your message could not be delivered.",
        action="failed",
        status="5.1.1",
        diag=f"smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
        alice=alice.email,
        rcpt=rcpt,
        mid=mid,
        date=_date(when),
        n=n,
    )


def test_out_of_office_with_a_return_date_holds_the_bump_until_then(
    mail_world, alice, cli, engine, clock
):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    back = (clock.now() + timedelta(days=10)).date()
    mail_world.deliver(
        alice,
        OOO.format(
            bob=bob.email,
            alice=alice.email,
            mid=mid,
            n=1,
            date=_date(clock.now()),
            back=back.strftime("%A, %-d %B %Y"),
        ),
    )
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    # Alice's window is always open and her zone is UTC: the bump waits for midnight that day.
    assert due_at(engine.store, fid) == datetime.combine(back, datetime.min.time(), tzinfo=UTC)
    (paused,) = [d for k, d in events_of(engine.store, fid) if k == "paused"]
    assert f"back {back.isoformat()}" in paused and "held until" in paused
    assert "auto-reply (Auto-Submitted: auto-generated)" in paused

    clock.advance(days=3, minutes=1)  # when the bump was first due: nothing goes out
    engine.run_pass()
    assert bumps_sent_by(mail_world, alice) == []

    clock.advance(days=7)  # the day Bob is back
    engine.run_pass()
    bump = bump_message_id(token_of(engine.store, fid), 1, alice.email)
    assert mail_world.sink.count(bump) == 1
    assert state_of(engine.store, fid) == "completed"


def test_out_of_office_without_a_date_changes_nothing(mail_world, alice, cli, engine, clock):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    before = due_at(engine.store, fid)
    raw = OOO.format(
        bob=bob.email, alice=alice.email, mid=mid, n=2, date=_date(clock.now()), back="soon"
    )
    mail_world.deliver(alice, raw)
    engine.run_pass()
    assert due_at(engine.store, fid) == before
    assert any(k == "not_reply" and "auto-reply" in d for k, d in events_of(engine.store, fid))


def test_out_of_office_counts_as_a_reply_under_the_reply_policy(
    mail_world, alice, cli, engine, clock
):
    set_ooo_policy(engine.store, alice.email, "reply")
    bob, mid, fid = start(mail_world, alice, cli, engine)
    raw = OOO.format(
        bob=bob.email, alice=alice.email, mid=mid, n=3, date=_date(clock.now()), back="Monday"
    )
    mail_world.deliver(alice, raw)
    engine.run_pass()
    assert state_of(engine.store, fid) == "replied"
    (stopped,) = [d for k, d in events_of(engine.store, fid) if k == "stopped"]
    assert f"reply from {bob.email}" in stopped
    assert "counted as a reply (out-of-office policy 'reply')" in stopped
    clock.advance(days=5)
    engine.run_pass()
    assert bumps_sent_by(mail_world, alice) == []


def test_out_of_office_ignored_under_the_ignore_policy(mail_world, alice, cli, engine, clock):
    set_ooo_policy(engine.store, alice.email, "ignore")
    bob, mid, fid = start(mail_world, alice, cli, engine)
    before = due_at(engine.store, fid)
    back = (clock.now() + timedelta(days=10)).strftime("%-d %B %Y")
    raw = OOO.format(
        bob=bob.email, alice=alice.email, mid=mid, n=4, date=_date(clock.now()), back=back
    )
    mail_world.deliver(alice, raw)
    engine.run_pass()
    assert due_at(engine.store, fid) == before
    assert "paused" not in [k for k, _ in events_of(engine.store, fid)]


def test_delayed_delivery_warning_changes_nothing(mail_world, alice, cli, engine, clock):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    before = due_at(engine.store, fid)
    mail_world.deliver(alice, dsn(alice, bob.email, mid, clock.now(), delayed=True, n=5))
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert due_at(engine.store, fid) == before
    events = events_of(engine.store, fid)
    assert any(k == "not_reply" and "delay warning, not a failure" in d for k, d in events)
    clock.advance(days=3, minutes=1)
    engine.run_pass()
    assert len(bumps_sent_by(mail_world, alice)) == 1


def test_bounce_fails_with_the_address_and_diagnostic(mail_world, alice, cli, engine, clock):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    mail_world.deliver(alice, dsn(alice, bob.email, mid, clock.now(), n=6))
    engine.run_pass()
    assert state_of(engine.store, fid) == "failed"
    (failed,) = [d for k, d in events_of(engine.store, fid) if k == "failed"]
    assert bob.email in failed
    assert "550 5.1.1" in failed and "User unknown" in failed
    code, out, _ = cli("followup", "show", str(fid))
    assert code == 0 and bob.email in out
    clock.advance(days=5)
    engine.run_pass()
    assert bumps_sent_by(mail_world, alice) == []


def test_bounce_for_someone_in_cc_only_lets_the_followup_go_on(
    mail_world, alice, cli, engine, clock
):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Proposal", "Hi", cc=["gone@nowhere.example"])
    fid = add_followup(cli, alice, mid, "--after", "3d")
    engine.run_pass()
    mail_world.deliver(alice, dsn(alice, "gone@nowhere.example", mid, clock.now(), n=7))
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert any(
        k == "not_reply" and "gone@nowhere.example" in d for k, d in events_of(engine.store, fid)
    )


def test_reply_from_outside_the_policy_is_recorded_and_does_not_stop(
    mail_world, alice, cli, engine, clock
):
    bob, mid, fid = start(
        mail_world, alice, cli, engine, "Proposal", "3d", "--policy", "recipients"
    )
    carol = mail_world.new_user("carol")
    mail_world.send(
        carol, [alice], "Re: Proposal", "Bob is away", in_reply_to=mid, references=[mid]
    )
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    (ignored,) = [d for k, d in events_of(engine.store, fid) if k == "reply_ignored"]
    assert carol.email in ignored and "'recipients' policy" in ignored
    mail_world.send(bob, [alice], "Re: Proposal", "Yes", in_reply_to=mid, references=[mid])
    engine.run_pass()
    assert state_of(engine.store, fid) == "replied"


@pytest.mark.parametrize(
    ("extra", "subject", "body"),
    [
        pytest.param({"Precedence": "bulk"}, "RE: Proposal", "Approved.", id="gateway-bulk"),
        pytest.param(
            {}, "Re: Proposal", "I'm out of office until Monday, but: yes!", id="ooo-words"
        ),
        pytest.param({"X-Auto-Response-Suppress": "All"}, "RE: Proposal", "OK", id="suppress"),
        pytest.param({}, "Proposal - signed", "Signed copy attached.", id="changed-subject"),
    ],
)
def test_odd_human_replies_stop(mail_world, alice, cli, engine, extra, subject, body):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    mail_world.send(
        bob, [alice], subject, body, in_reply_to=mid, references=[mid], extra_headers=extra
    )
    engine.run_pass()
    assert state_of(engine.store, fid) == "replied"


def test_own_message_from_another_device_is_own(mail_world, alice, cli, engine, clock):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    before = due_at(engine.store, fid)
    clock.advance(days=1)
    raw = (
        f"From: Alice <{alice.email}>\nTo: {bob.email}\nCc: {alice.email}\nSubject: Re: Proposal\n"
        f"Date: {_date(clock.now())}\nMessage-ID: <phone-1@{alice.email.split('@')[1]}>\n"
        f"In-Reply-To: {mid}\nReferences: {mid}\nX-Mailer: iPhone Mail (21D61)\n\n"
        "One more thing.\n\nSent from my iPhone\n"
    )
    # Her phone saves it in Sent; the Cc to herself lands in her inbox (judged once, as hers).
    mail_world.deliver(alice, raw)
    mail_world.deliver(alice, raw, "Sent", flags=[b"\\Seen"])
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert due_at(engine.store, fid) > before  # the default policy restarts the clock
    assert "own_message" in [k for k, _ in events_of(engine.store, fid)]


@pytest.mark.parametrize(
    ("headers", "subject", "rule"),
    [
        pytest.param(
            {"List-Id": "<dev.lists.example.org>", "Precedence": "list"},
            "[dev] Digest",
            "list",
            id="list-copy",
        ),
        pytest.param(
            {"Auto-Submitted": "auto-replied"},
            "Please verify your email [Spam Arrest]",
            "challenge",
            id="challenge-response",
        ),
    ],
)
def test_list_mail_and_challenges_are_not_replies(
    mail_world, alice, cli, engine, clock, headers, subject, rule
):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    mail_world.send(bob, [alice], subject, "...", references=[mid], extra_headers=headers)
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert any(k == "not_reply" and rule in d for k, d in events_of(engine.store, fid))
