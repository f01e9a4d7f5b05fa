"""End to end: forged mail never makes Replywatch send, on Dovecot + the SMTP sink and on the
Gmail emulator (issue 16, High).

A stranger writes `From: Alice`, `To:` whoever they like, and delivers it to alice+1d@…: a real
delivery, so it lands in her INBOX (Dovecot: an APPEND to INBOX with the trace lines an MTA adds;
Gmail: a message with the INBOX and UNREAD labels only) and never in her Sent. Only her Sent copy
(IMAP \\Sent, Gmail's SENT label) may set a follow-up or count as her own message in a thread.
"""

from __future__ import annotations

import email.policy
import email.utils
from datetime import UTC, datetime

import pytest

from tests.e2e.test_gmail_e2e import add_followup as gadd_followup
from tests.e2e.test_gmail_e2e import connect as connect_gmail
from tests.e2e.test_triggers_e2e import (
    account_events,
    compose,
    followups,
    gmail_send,
    items,
    labels_of,
    plus,
    send_bcc,
)
from tests.e2e.test_watcher_e2e import add_followup, connect, events_of, state_of
from watcher.compose import bump_message_id
from watcher.models import FollowUp

# No expected value here hangs on the date: the sending window is open all week, all day, and
# the messages and the CLI's follow-ups are dated by the same (wall) clock the engine starts at.


@pytest.fixture
def alice(mail_world, cli):
    user = mail_world.new_user("alice")
    connect(cli, mail_world, user)
    code, _, err = cli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


def forged(
    alice_address: str,
    alice_name: str,
    delivered_to: str,
    to: list[str],
    subject: str,
    when: datetime,
    *,
    in_reply_to: str | None = None,
    message_id: str = "<f00dfeed.1@mx.evil.example>",
) -> bytes:
    """What the attacker's message looks like once Alice's own server delivered it: their
    headers (From: Alice, To: their victims), and on top the trace lines a delivering MTA
    writes (RFC 5321 4.4: Return-Path at final delivery, a Received line per hop; Delivered-To
    as Postfix and Dovecot LMTP write it). Written after those patterns, not copied."""
    stamp = email.utils.format_datetime(when)
    lines = [
        "Return-Path: <bounce@mx.evil.example>",
        f"Delivered-To: {delivered_to}",
        "Received: from mx.evil.example (mx.evil.example [192.0.2.66])",
        f"\tby mail.example.test (Postfix) with ESMTPS id 4Zq8; {stamp}",
        f"From: {alice_name} <{alice_address}>",
        f"To: {', '.join(to)}",
        f"Subject: {subject}",
        f"Date: {stamp}",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", "Call me.", ""]
    return "\r\n".join(lines).encode()


VICTIMS = ["ceo@victim-one.example", "accounts@victim-two.example"]


def due_at(store, followup_id: int):
    with store.session() as s:
        return s.get(FollowUp, followup_id).due_at


# -- Dovecot + the SMTP sink -----------------------------------------------------------------


@pytest.mark.parametrize("tag", ["1d", "2x"], ids=["schedule", "malformed-tag"])
def test_forged_mail_to_my_plus_address_sets_nothing_and_never_sends(
    mail_world, alice, engine, clock, tag
):
    engine.run_pass()  # the baseline
    address = plus(alice, tag)
    raw = forged(alice.email, alice.name, address, VICTIMS, "Invoice 4471", clock.now())
    mail_world.deliver(alice, raw, "INBOX")
    mid = "<f00dfeed.1@mx.evil.example>"
    assert mail_world.count(alice, "Sent", mid) == 0

    engine.run_pass()
    assert followups(engine.store) == []
    assert [(i.kind, i.state) for i in items(engine.store)] == [("plus", "unverified")]
    # left in the inbox, unread, for Alice to see
    assert mail_world.count(alice, "INBOX", mid) == 1
    assert "\\Seen" not in mail_world.flags(alice, "INBOX", mid)

    for _ in range(3):  # past the delay (and any help email): nothing ever goes out
        clock.advance(days=2)
        engine.run_pass()
    assert mail_world.sink.messages == []
    assert followups(engine.store) == []
    assert mail_world.count(alice, "INBOX", mid) == 1


def test_the_genuine_bcc_still_works_when_the_inbox_copy_comes_first(
    mail_world, alice, engine, clock
):
    """Her own Bcc to alice+2w@…: the inbox copy alone does nothing (it could be forged); her
    Sent copy, a pass later, sets the follow-up, and then the inbox copy is filed away."""
    bob = mail_world.new_user("bob")
    engine.run_pass()
    address = plus(alice, "2w")
    mid = send_bcc(mail_world, alice, [bob], "Quote for the roof", bcc=[address])
    sent = mail_world.messages(alice, "Sent")[-1].as_bytes(policy=email.policy.SMTP)
    with mail_world._imap(alice) as c:  # as if her client saved the Sent copy a moment later
        c.select_folder("Sent")
        c.delete_messages(c.search(["HEADER", "Message-ID", mid]))
        c.expunge()
    engine.run_pass()
    assert followups(engine.store) == []
    assert mail_world.count(alice, "INBOX", mid) == 1

    mail_world.deliver(alice, sent, "Sent", flags=[b"\\Seen"])
    engine.run_pass()
    [followup] = followups(engine.store)
    assert followup.origin == f"plus-address {address}" and followup.to_addrs == [bob.email]
    assert mail_world.count(alice, "INBOX", mid) == 0  # filed: it has its Sent copy now
    clock.advance(days=15)
    engine.run_pass()
    [bump] = mail_world.sink.find(bump_message_id(followup.token, 1, alice.email))
    assert bump.rcpt_tos == [bob.email]


def test_more_than_ten_recipients_by_plus_address_is_refused_with_an_event(
    mail_world, alice, engine
):
    engine.run_pass()
    crowd = [f"guest{n}@party.example" for n in range(11)]
    mid = send_bcc(mail_world, alice, crowd, "Summer party", bcc=[plus(alice, "3d")])
    engine.run_pass()
    assert followups(engine.store) == []
    [detail] = [d for k, d in account_events(engine.store) if k == "trigger_ignored"]
    assert "bulk: 11 recipients (more than 10)" in detail and "Summer party" in detail
    assert mail_world.count(alice, "INBOX", mid) == 0  # her own copy is filed all the same


def start(mail_world, alice, cli, engine, *extra):
    bob = mail_world.new_user("bob")
    mid = mail_world.send(alice, [bob], "Proposal", "Shall we go ahead?")
    fid = add_followup(cli, alice, mid, "--after", "3d", *extra)
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    return bob, mid, fid


def test_forged_own_message_in_a_thread_is_judged_as_someone_elses(
    mail_world, alice, cli, engine, clock
):
    """Safe verdict: a stranger's "From: Alice" is a message from someone else in the thread.
    It never restarts the clock (nor stops the follow-up as her own). It is judged when the
    thread is read before the bump (her own Sent copy would be there by then): still only in
    her inbox, it counts like any outsider's message, a reply where anyone may answer, so no
    bump goes out. A bump after a real reply is the worst failure, a missed bump the lesser."""
    bob, mid, fid = start(mail_world, alice, cli, engine)
    before = due_at(engine.store, fid)
    clock.advance(days=1)
    raw = forged(
        alice.email,
        alice.name,
        alice.email,
        [bob.email],
        "Re: Proposal",
        clock.now(),
        in_reply_to=mid,
    )
    mail_world.deliver(alice, raw, "INBOX")
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert due_at(engine.store, fid) == before  # the clock did not restart
    assert "own_message" not in [k for k, _ in events_of(engine.store, fid)]

    clock.advance(days=3)  # the bump is due: the thread is read fresh
    engine.run_pass()
    assert state_of(engine.store, fid) == "replied"
    assert "own_message" not in [k for k, _ in events_of(engine.store, fid)]
    [stop] = [d for k, d in events_of(engine.store, fid) if k == "stopped"]
    assert "not in your sent mail" in stop
    clock.advance(days=5)
    engine.run_pass()
    with engine.store.session() as s:
        token = s.get(FollowUp, fid).token
    assert mail_world.sink.find(bump_message_id(token, 1, alice.email)) == []


def test_forged_own_message_restarts_nothing_and_the_bump_answers_her_real_message(
    mail_world, alice, cli, engine, clock
):
    """Only the original recipients count as repliers: the forged message does not stop the
    follow-up, does not move the clock, and the bump still answers her own last message."""
    bob, mid, fid = start(mail_world, alice, cli, engine, "--policy", "recipients")
    before = due_at(engine.store, fid)
    clock.advance(days=1)
    raw = forged(
        alice.email,
        alice.name,
        alice.email,
        [bob.email],
        "Re: Proposal",
        clock.now(),
        in_reply_to=mid,
        message_id="<f00dfeed.2@mx.evil.example>",
    )
    mail_world.deliver(alice, raw, "INBOX")
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert due_at(engine.store, fid) == before  # the clock did not restart
    clock.advance(days=3)
    engine.run_pass()
    kinds = [k for k, _ in events_of(engine.store, fid)]
    assert "own_message" not in kinds and "reply_ignored" in kinds
    with engine.store.session() as s:
        token = s.get(FollowUp, fid).token
    [bump] = mail_world.sink.find(bump_message_id(token, 1, alice.email))
    assert bump.rcpt_tos == [bob.email]
    text = bump.content.decode()
    assert f"In-Reply-To: {mid}" in text and "f00dfeed" not in text


def test_her_own_reply_whose_sent_copy_comes_a_pass_later_is_still_hers(
    mail_world, alice, cli, engine, clock
):
    """She answers in the thread with a Cc to herself; the inbox copy wakes a pass before her
    client saved the Sent copy. The copy alone proves nothing yet, so it is not judged; the
    Sent copy then restarts the clock, as her own message does (no 'reply from herself')."""
    bob, mid, fid = start(mail_world, alice, cli, engine)
    before = due_at(engine.store, fid)
    clock.advance(days=1)
    raw = (
        f"From: Alice <{alice.email}>\r\nTo: {bob.email}\r\nCc: {alice.email}\r\n"
        f"Subject: Re: Proposal\r\nDate: {email.utils.format_datetime(clock.now())}\r\n"
        f"Message-ID: <own-2@example.test>\r\nIn-Reply-To: {mid}\r\nReferences: {mid}\r\n"
        "\r\nOne more thing.\r\n"
    ).encode()
    mail_world.deliver(alice, b"Return-Path: <" + alice.email.encode() + b">\r\n" + raw)
    engine.run_pass()
    assert state_of(engine.store, fid) == "active" and due_at(engine.store, fid) == before
    mail_world.deliver(alice, raw, "Sent", flags=[b"\\Seen"])
    engine.run_pass()
    assert state_of(engine.store, fid) == "active"
    assert due_at(engine.store, fid) > before
    assert [k for k, _ in events_of(engine.store, fid)].count("own_message") == 1


def test_a_forged_message_filed_into_a_trigger_folder_is_put_back(mail_world, alice, cli, engine):
    """Some servers file mail to user+folder@… into that folder: delivered mail there (it has
    the delivery trace) is not hers, whatever its From says."""
    code, _, err = cli("account", "triggers", alice.email, "on")
    assert code == 0, err
    engine.run_pass()  # creates the folders, takes the baseline
    week = "Replywatch/1 week"
    raw = forged(alice.email, alice.name, alice.email, VICTIMS, "Wire transfer", datetime.now(UTC))
    mail_world.deliver(alice, raw, week)
    engine.run_pass()
    assert followups(engine.store) == []
    mid = "<f00dfeed.1@mx.evil.example>"
    assert mail_world.count(alice, "INBOX", mid) == 1  # back to the inbox, not to Sent
    assert mail_world.count(alice, "Sent", mid) == 0
    [detail] = [d for k, d in account_events(engine.store) if k == "trigger_ignored"]
    assert "not in your sent mail" in detail


def test_a_draft_answering_a_forged_message_sets_no_followup(mail_world, alice, cli, engine):
    """Alice drafts an answer (in Replywatch/Bumps) to what looks like her own message: it is
    only in her inbox, so no follow-up is made on it, and nothing goes to its recipients."""
    code, _, err = cli("account", "triggers", alice.email, "on")
    assert code == 0, err
    engine.run_pass()
    mid = "<f00dfeed.1@mx.evil.example>"
    raw = forged(alice.email, alice.name, alice.email, VICTIMS, "Contract", datetime.now(UTC))
    mail_world.deliver(alice, raw, "INBOX")
    engine.run_pass()
    mail_world.save_draft(
        alice, VICTIMS, "Re: Contract", "Signed?", folder="Replywatch/Bumps", in_reply_to=mid
    )
    engine.run_pass()
    assert followups(engine.store) == []
    [detail] = [d for k, d in account_events(engine.store) if k == "trigger_ignored"]
    assert "not in your sent" in detail


def test_a_rule_for_any_recipient_still_takes_a_big_send(mail_world, alice, cli, engine):
    """The bulk limit of triggers is the rules' own: a rule the user opened to bulk sends
    (--any-recipient) keeps that choice."""
    code, _, err = cli("rule", "add", "--account", alice.email, "--name", "All", "--any-recipient")
    assert code == 0, err
    engine.run_pass()
    crowd = [f"guest{n}@party.example" for n in range(11)]
    mail_world.send(alice, crowd, "Summer party", "See you?")
    engine.run_pass()
    [followup] = followups(engine.store)
    assert len(followup.to_addrs) == 11


# -- Gmail: the emulator ---------------------------------------------------------------------


@pytest.fixture
def galice(google, gcli):
    user = google.new_user("alice")
    connect_gmail(gcli, google, user)
    code, _, err = gcli("defaults", "--user", user.email, "--days", "mon-sun", "--hours", "0-24")
    assert code == 0, err
    return user


def test_gmail_forged_mail_to_my_plus_address_sets_nothing_and_never_sends(
    google, galice, gengine, clock
):
    gengine.run_pass()
    address = plus(galice, "1d")
    raw = forged(galice.email, galice.name, address, VICTIMS, "Invoice 4471", clock.now())
    msg = google.gmail.deliver(galice.email, raw)  # received mail: INBOX and UNREAD, no SENT
    assert labels_of(google, galice, msg) == {"INBOX", "UNREAD"}
    gengine.run_pass()
    assert followups(gengine.store) == []
    assert labels_of(google, galice, msg) == {"INBOX", "UNREAD"}  # left in the inbox
    for _ in range(3):
        clock.advance(days=2)
        gengine.run_pass()
    assert followups(gengine.store) == []
    assert google.gmail.outbound == []
    assert google.gmail.messages(galice.email, "SENT") == []


def test_gmail_forged_own_message_in_a_thread_restarts_nothing(
    google, galice, gcli, gengine, clock
):
    bob = google.new_user("bob")
    gengine.run_pass()
    sent = gmail_send(google, galice, [bob.email], "Proposal")
    fid = gadd_followup(gcli, galice, sent.message_id, "--after", "3d", "--policy", "recipients")
    gengine.run_pass()
    before = due_at(gengine.store, fid)
    clock.advance(days=1)
    raw = forged(
        galice.email,
        galice.name,
        galice.email,
        [bob.email],
        "Re: Proposal",
        clock.now(),
        in_reply_to=sent.message_id,
    )
    google.gmail.deliver(galice.email, raw)
    gengine.run_pass()
    assert state_of(gengine.store, fid) == "active"
    assert due_at(gengine.store, fid) == before
    clock.advance(days=3)
    gengine.run_pass()
    kinds = [k for k, _ in events_of(gengine.store, fid)]
    assert "own_message" not in kinds and "reply_ignored" in kinds
    followup = followups(gengine.store)[0]
    [bump] = google.gmail.find(bob.email, bump_message_id(followup.token, 1, galice.email))
    assert bump.header("In-Reply-To") == sent.message_id


def test_gmail_own_message_in_the_thread_still_restarts_the_clock(
    google, galice, gcli, gengine, clock
):
    """Her real message (SENT label) is her own: the default policy restarts the clock."""
    bob = google.new_user("bob")
    gengine.run_pass()
    sent = gmail_send(google, galice, [bob.email], "Proposal")
    fid = gadd_followup(gcli, galice, sent.message_id, "--after", "3d")
    gengine.run_pass()
    before = due_at(gengine.store, fid)
    clock.advance(days=1)
    again = compose(galice, [bob.email], "Re: Proposal", "One more", in_reply_to=sent.message_id)
    again.replace_header("Date", email.utils.format_datetime(clock.now()))
    google.gmail.send_as(galice.email, again.as_bytes(policy=email.policy.SMTP))
    gengine.run_pass()
    assert state_of(gengine.store, fid) == "active"
    assert due_at(gengine.store, fid) > before
    assert "own_message" in [k for k, _ in events_of(gengine.store, fid)]


def test_gmail_more_than_ten_recipients_by_plus_address_is_refused(google, galice, gengine):
    gengine.run_pass()
    crowd = [f"guest{n}@party.example" for n in range(11)]
    gmail_send(google, galice, crowd, "Summer party", bcc=[plus(galice, "3d")])
    gengine.run_pass()
    assert followups(gengine.store) == []
    [detail] = [d for k, d in account_events(gengine.store) if k == "trigger_ignored"]
    assert "bulk: 11 recipients (more than 10)" in detail


def test_gmail_forged_mail_given_a_trigger_label_is_put_back(google, galice, gcli, gengine):
    """A filter of Alice's (or the attacker's guess of one) labels received mail: it has no
    SENT label, so no follow-up, and the label is taken off again."""
    code, _, err = gcli("account", "triggers", galice.email, "on")
    assert code == 0, err
    gengine.run_pass()  # creates the labels
    raw = forged(galice.email, galice.name, galice.email, VICTIMS, "Wire", datetime.now(UTC))
    msg = google.gmail.deliver(galice.email, raw)
    google.gmail.add_label(galice.email, msg.id, "Replywatch/1 week")
    gengine.run_pass()
    assert followups(gengine.store) == []
    assert labels_of(google, galice, msg) == {"INBOX", "UNREAD"}
    [detail] = [d for k, d in account_events(gengine.store) if k == "trigger_ignored"]
    assert "not in your sent mail" in detail
