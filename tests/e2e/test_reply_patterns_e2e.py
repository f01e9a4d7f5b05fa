"""Issue 18 end to end, one test per misjudgement pattern: a message written the way a real
MTA, gateway or responder words it lands in Alice's Dovecot INBOX in a tracked thread; the
watcher reads its headers and the start of its body over IMAP, and the follow-up reaches the
right state with the right Event. Dates are built from the injected clock, with their year,
so no expectation depends on today's date.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.test_reply_judgement import _date, due_at, start
from tests.e2e.test_watcher_e2e import bumps_sent_by, connect, events_of, state_of
from watcher.models import Event


@pytest.fixture
def alice(mail_world, cli):
    """Alice connected through the CLI, in UTC, with a sending window that is always open."""
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


def rules_of(store, followup_id: int) -> list[tuple[str, str]]:
    with store.session() as s:
        return [(e.kind, e.rule) for e in store.events_for(s, followup_id) if e.rule]


def plain(frm, to, subject, when, body, mid=None, extra="", ctype="text/plain; charset=utf-8"):
    thread = f"In-Reply-To: {mid}\nReferences: {mid}\n" if mid else ""
    return (
        f"From: {frm}\nTo: {to}\nSubject: {subject}\nDate: {_date(when)}\n"
        f"Message-ID: <e2e-{abs(hash((subject, body))) % 10**9}@partner.example>\n"
        f"{thread}{extra}MIME-Version: 1.0\nContent-Type: {ctype}\n\n{body}"
    )


def test_p1_plain_bounce_from_a_gateway_fails_the_followup(mail_world, alice, cli, engine, clock):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    body = (
        f"Your message to {bob.email} couldn't be delivered.\n\n"
        "Remote server returned: 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found\n"
    )
    raw = plain("Mail Gateway <mailgw@partner.example>", alice.email, "Re: Proposal",
                clock.now(), body, mid)  # fmt: skip
    mail_world.deliver(alice, raw)
    engine.run_pass()
    assert state_of(engine.store, fid) == "failed"
    (failed,) = [d for k, d in events_of(engine.store, fid) if k == "failed"]
    assert bob.email in failed and "550 5.1.1" in failed
    assert ("failed", "report-text") in rules_of(engine.store, fid)


def test_p1_bounce_with_the_original_attached_joins_its_thread_and_fails(
    mail_world, alice, cli, engine, clock
):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    body = (
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain; '
        f"charset=utf-8\n\nIhre Nachricht an {bob.email} konnte nicht zugestellt werden.\n"
        "Grund: 550 5.1.1 Postfach nicht gefunden\n--b\nContent-Type: message/rfc822\n\n"
        f"From: {alice.email}\nTo: {bob.email}\nSubject: Proposal\nMessage-ID: {mid}\n\nHi\n"
        "--b--\n"
    )
    raw = (
        "From: E-Mail-System <noreply@partner.example>\n"
        f"To: {alice.email}\nSubject: Nachricht konnte nicht zugestellt werden\n"
        f"Date: {_date(clock.now())}\nMessage-ID: <e2e-de-bounce@partner.example>\n"
        f"MIME-Version: 1.0\n{body}"
    )  # no In-Reply-To: only the attached original ties it to the thread
    mail_world.deliver(alice, raw)
    engine.run_pass()
    assert state_of(engine.store, fid) == "failed"
    assert ("failed", "report-text") in rules_of(engine.store, fid)


def test_p1_absence_form_without_header_holds_the_bump(mail_world, alice, cli, engine, clock):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    back = (clock.now() + timedelta(days=10)).date()
    body = (
        "Thank you for your email. I am currently out of the office with limited access to "
        f"email. I will respond upon my return on {back.strftime('%-d %B %Y')}.\n"
        "For urgent matters please contact my colleague.\n"
    )
    mail_world.deliver(alice, plain(f"Bob <{bob.email}>", alice.email, "Proposal",
                                    clock.now(), body, mid))  # fmt: skip
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert due_at(engine.store, fid) == datetime.combine(back, datetime.min.time(), tzinfo=UTC)
    assert ("paused", "ooo-text") in rules_of(engine.store, fid)


def test_p1_safe_side_a_person_mentioning_absence_and_a_bounce_stops_it(
    mail_world, alice, cli, engine, clock
):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    body = (
        "Hi Alice, yes - go ahead. I'm out of office next week, and this came back when I sent "
        "it on to Carol:\n\nThis is the mail system at host mx.partner.example.\n"
        "I'm sorry to have to inform you that your message could not be delivered.\n"
        "<carol@partner.example>: 550 5.1.1 User unknown\n"
    )
    raw = plain(f"Bob <{bob.email}>", alice.email, "Re: Proposal", clock.now(), body, mid,
                extra="Return-Path: <>\n")  # fmt: skip
    mail_world.deliver(alice, raw)
    engine.run_pass()
    assert state_of(engine.store, fid) == "replied"
    assert ("stopped", "default-reply") in rules_of(engine.store, fid)


def test_p2_null_sender_ooo_is_no_bounce(mail_world, alice, cli, engine, clock):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    back = (clock.now() + timedelta(days=8)).date()
    raw = plain(f"Bob <{bob.email}>", alice.email, "Out of Office: Proposal", clock.now(),
                f"I am out of the office until {back.strftime('%-d %B %Y')}.\n", mid,
                extra="Return-Path: <>\n")  # fmt: skip
    mail_world.deliver(alice, raw)
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert due_at(engine.store, fid) == datetime.combine(back, datetime.min.time(), tzinfo=UTC)
    assert ("paused", "ooo-subject") in rules_of(engine.store, fid)


def test_p3_exchange_delay_as_a_plain_message_changes_nothing(
    mail_world, alice, cli, engine, clock
):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    before = due_at(engine.store, fid)
    body = (
        f"Delivery is delayed to these recipients or groups:\n\n{bob.email}\n\n"
        "This message hasn't been delivered yet. Delivery will continue to be attempted.\n"
    )
    frm = "Microsoft Outlook <MicrosoftExchange329e71ec@partner.example>"
    mail_world.deliver(alice, plain(frm, alice.email, "Delivery delayed:Proposal", clock.now(),
                                    body, mid))  # fmt: skip
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert due_at(engine.store, fid) == before
    assert ("not_reply", "dsn-delayed") in rules_of(engine.store, fid)
    clock.advance(days=3, minutes=1)
    engine.run_pass()
    assert len(bumps_sent_by(mail_world, alice)) == 1


def test_p4_dsn_fields_in_text_plain_action_first_fail_the_followup(
    mail_world, alice, cli, engine, clock
):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    body = (
        "The following message could not be delivered.\n\nReporting-MTA: dns; gw.partner.example"
        f"\n\nAction: failed\nFinal-Recipient: rfc822; {bob.email}\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\n"
    )
    raw = plain("MAILER-DAEMON@gw.partner.example", alice.email, "Returned mail", clock.now(),
                body, mid)  # fmt: skip
    mail_world.deliver(alice, raw)
    engine.run_pass()
    assert state_of(engine.store, fid) == "failed"
    (failed,) = [d for k, d in events_of(engine.store, fid) if k == "failed"]
    assert f"undeliverable to {bob.email}" in failed and "550 5.1.1 user unknown" in failed


def test_p5_auto_submitted_with_failure_text_fails_the_followup(
    mail_world, alice, cli, engine, clock
):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    body = (
        f"Your message couldn't be delivered to {bob.email} because the mailbox is full.\n\n"
        "552 5.2.2 Mailbox full\n"
    )
    raw = plain("Partner Mail <no-reply@partner.example>", alice.email, "Re: Proposal",
                clock.now(), body, mid, extra="Auto-Submitted: auto-replied\n")  # fmt: skip
    mail_world.deliver(alice, raw)
    engine.run_pass()
    assert state_of(engine.store, fid) == "failed"
    events = [(k, d) for k, d in events_of(engine.store, fid) if k == "failed"]
    assert events and bob.email in events[0][1] and "552 5.2.2" in events[0][1]
    assert ("failed", "report-text") in rules_of(engine.store, fid)
    assert not [e for e in rules_of(engine.store, fid) if e[1] == "auto-submitted"]


def test_p6_bracketed_marker_after_a_gateway_tag_holds_the_bump(
    mail_world, alice, cli, engine, clock
):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    back = (clock.now() + timedelta(days=9)).date()
    raw = plain(f"Bob <{bob.email}>", alice.email, "[EXTERNAL] Proposal [Auto-Reply]",
                clock.now(), f"Back on {back.strftime('%-d %B %Y')}.\n", mid)  # fmt: skip
    mail_world.deliver(alice, raw)
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert due_at(engine.store, fid) == datetime.combine(back, datetime.min.time(), tzinfo=UTC)
    assert ("paused", "ooo-subject") in rules_of(engine.store, fid)


def test_an_idle_pass_reads_no_body_and_a_judged_message_is_read_once(
    mail_world, alice, cli, engine, clock
):
    bob, mid, fid = start(mail_world, alice, cli, engine)
    engine.run_pass()  # idle
    mail_world.send(bob, [alice], "Re: Proposal", "Thanks!", in_reply_to=mid, references=[mid])
    engine.run_pass()
    assert state_of(engine.store, fid) == "replied"
    with engine.store.session() as s:
        (stopped,) = s.query(Event).filter_by(followup_id=fid, kind="stopped").all()
    assert stopped.rule == "default-reply"
