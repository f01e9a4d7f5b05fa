"""ImapMailbox against a real Dovecot and the aiosmtpd sink (tests/servers)."""

from __future__ import annotations

import email.policy
import email.utils
import json
import logging
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.servers.dovecot import free_port
from watcher.config import Config
from watcher.errors import (
    AuthFailed,
    MailboxUnavailable,
    SendRejected,
    SendUnconfirmed,
)
from watcher.imap import ImapMailbox
from watcher.mailbox import Bump, ThreadKey, open_mailbox


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        database_url="sqlite://",
        instance_dir=tmp_path,
        secret_key="test",
        encryption_keys=("unused",),
        imap_timeout=5.0,
        smtp_timeout=5.0,
        allow_private_mail_hosts=True,  # Dovecot and the SMTP sink listen on 127.0.0.1
    )


@pytest.fixture
def world(mail_world):
    return mail_world


def mailbox(world, user, config, **settings) -> ImapMailbox:
    return ImapMailbox(world.account_spec(user, **settings), config)


def make_bump(sender, to, subject, *, in_reply_to=None, references=(), message_id=None) -> Bump:
    msg = EmailMessage()
    msg["From"] = sender.email
    msg["To"] = ", ".join(str(t) for t in to)
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate()
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="replywatch.test")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    msg["X-Replywatch"] = "bump"
    msg.set_content("Just following up on this.\n")
    return Bump(
        message_id=msg["Message-ID"],
        sender=sender.email,
        recipients=tuple(str(t) for t in to),
        raw=msg.as_bytes(policy=email.policy.SMTP),
    )


def bulk_append(world, user, count: int, folder: str = "INBOX") -> None:
    c = IMAPClient(world.dovecot.host, world.dovecot.port, ssl=False)
    c.login(user.email, user.password)
    for i in range(count):
        raw = (
            f"From: filler@example.test\r\nTo: {user.email}\r\nSubject: filler {i}\r\n"
            f"Message-ID: <filler-{i}-{time.monotonic_ns()}@example.test>\r\n\r\nbody\r\n"
        ).encode()
        c.append(folder, raw)
    c.logout()


# -- check ---------------------------------------------------------------------------------


def test_check_logs_in_to_imap_and_smtp(world, config):
    alice = world.new_user("alice")
    with open_mailbox(world.account_spec(alice), config) as mb:
        assert isinstance(mb, ImapMailbox)
        mb.check()


def test_wrong_password_is_auth_failed_and_never_shows_a_password(world, config, caplog):
    caplog.set_level(logging.DEBUG)
    alice = world.new_user("alice")
    spec = world.account_spec(alice)
    good = alice.password
    wrong = "Wr0ng-pa55word-for-imap"
    settings = dict(spec.settings)
    bad_imap = ImapMailbox(
        type(spec)(
            kind="imap",
            email=alice.email,
            settings=settings,
            secret=json.dumps({"imap_password": wrong, "smtp_password": good}),
        ),
        config,
    )
    with pytest.raises(AuthFailed) as info:
        bad_imap.check()
    assert str(info.value) == (
        f"IMAP login refused for {alice.email}: check the user name and password"
    )

    bad_smtp = ImapMailbox(
        type(spec)(
            kind="imap",
            email=alice.email,
            settings=settings,
            secret=json.dumps({"imap_password": good, "smtp_password": wrong}),
        ),
        config,
    )
    with pytest.raises(AuthFailed) as info2:
        bad_smtp.check()
    assert "SMTP login refused" in str(info2.value)
    bad_smtp.close()

    # A successful session logs (at DEBUG) no password either.
    with mailbox(world, alice, config) as mb:
        mb.check()
        mb.changes(None)

    for exc in (info.value, info2.value):
        text = f"{exc!s} {exc!r} {exc.__cause__!r} {exc.__context__!r}"
        assert wrong not in text and good not in text
    assert wrong not in caplog.text
    assert good not in caplog.text


def test_unreachable_server_is_mailbox_unavailable(world, config):
    alice = world.new_user("alice")
    port = free_port()  # nothing listens there
    mb = mailbox(world, alice, config, imap_port=port)
    with pytest.raises(MailboxUnavailable) as info:
        mb.check()
    assert str(info.value) == f"cannot reach 127.0.0.1:{port}: connection refused"
    assert alice.password not in str(info.value)

    mb = mailbox(world, alice, config, smtp_port=port)
    with pytest.raises(MailboxUnavailable) as info:
        mb.check()
    assert str(info.value) == f"cannot reach 127.0.0.1:{port}: connection refused"
    mb.close()


# -- changes -------------------------------------------------------------------------------


def test_changes_baseline_then_only_new_messages(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    old = world.send(bob, [alice], "before the baseline")
    with mailbox(world, alice, config) as mb:
        first = mb.changes(None)
        assert first.cursor_reset and first.messages == []
        assert mb.changes(first.cursor).messages == []

        incoming = world.send(
            bob, [alice], "Grüße zum Projekt", cc=["carol@elsewhere.test"], body="hello"
        )
        outgoing = world.send(alice, [bob], "Re: Grüße", in_reply_to=incoming)
        second = mb.changes(first.cursor)
        assert not second.cursor_reset
        by_id = {m.message_id: m for m in second.messages}
        assert set(by_id) == {incoming, outgoing}  # `outgoing` is in Sent only (bob is not alice)
        got = by_id[incoming]
        assert got.subject == "Grüße zum Projekt"
        assert got.from_addr == bob.email and got.from_name == "Bob"
        assert got.to == (alice.email,) and got.cc == ("carol@elsewhere.test",)
        assert got.date is not None and got.date.utcoffset().total_seconds() == 0
        assert got.ref.startswith("INBOX/") and not got.in_sent
        assert got.headers.get("return-path") == f"<{bob.email}>"
        sent = by_id[outgoing]
        assert sent.in_sent and sent.ref.startswith("Sent/")
        assert sent.in_reply_to == (incoming,)

        # Each message is reported once.
        third = mb.changes(second.cursor)
        assert third.messages == [] and not third.cursor_reset
        assert old not in by_id

    # Fetching headers never marks anything read.
    assert world.flags(alice, "INBOX", incoming) == set()
    assert world.flags(alice, "INBOX", old) == set()


def test_unparsable_cursor_is_a_reset(world, config):
    alice = world.new_user("alice")
    with mailbox(world, alice, config) as mb:
        for bad in ("", "not json", '{"v": 99, "folders": {}}', '{"v":1}'):
            changes = mb.changes(bad)
            assert changes.cursor_reset and changes.messages == []
            assert json.loads(changes.cursor)["v"] == 1


def test_uidvalidity_change_resets_the_cursor(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    with mailbox(world, alice, config) as mb:
        cursor = mb.changes(None).cursor
        # 1. a stored cursor from another UIDVALIDITY era
        stale = json.loads(cursor)
        stale["folders"]["INBOX"]["uidvalidity"] += 1
        world.send(bob, [alice], "while the cursor was stale")
        changes = mb.changes(json.dumps(stale))
        assert changes.cursor_reset and changes.messages == []
        assert mb.changes(changes.cursor).messages == []

        # 2. the real thing: Sent deleted and created again gets a new UIDVALIDITY
        cursor = changes.cursor
        c = IMAPClient(world.dovecot.host, world.dovecot.port, ssl=False)
        c.login(alice.email, alice.password)
        c.delete_folder("Sent")
        c.create_folder("Sent")
        c.logout()
        world.send(alice, [bob], "into the new Sent")
        changes = mb.changes(cursor)
        assert changes.cursor_reset and changes.messages == []


def test_idle_pass_costs_the_same_whatever_the_mailbox_size(world, config):
    counts = []
    for size in (10, 300):
        user = world.new_user("big")
        bulk_append(world, user, size)
        bulk_append(world, user, size // 10, folder="Sent")
        with mailbox(world, user, config) as mb:
            cursor = mb.changes(None).cursor
            fresh = mb.commands  # LOGIN, LIST (folders by SPECIAL-USE), 2 x STATUS
            before = mb.commands
            again = mb.changes(cursor)
            counts.append((fresh, mb.commands - before))
            assert again.messages == [] and again.cursor == cursor
    assert counts[0] == counts[1] == (4, 2)  # idle: one STATUS for INBOX, one for Sent


def test_a_pass_that_fetched_leaves_no_folder_selected(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    with mailbox(world, alice, config) as mb:
        cursor = mb.changes(None).cursor
        world.send(bob, [alice], "one")
        changes = mb.changes(cursor)
        assert len(changes.messages) == 1
        before = mb.commands
        idle = mb.changes(changes.cursor)
        assert idle.messages == [] and mb.commands - before == 3  # UNSELECT + 2 STATUS
        before = mb.commands
        mb.changes(idle.cursor)
        assert mb.commands - before == 2


# -- thread, find_message, find_sent -------------------------------------------------------


def test_thread_finds_a_reply_that_only_has_references(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    first = world.send(alice, [bob], "Proposal")
    world.send(bob, [alice], "unrelated")
    reply = world.send(bob, [alice], "Re: Proposal", references=["<older@x.test>", first])
    with mailbox(world, alice, config) as mb:
        msgs = mb.thread(ThreadKey(frozenset({first})))
    assert [m.message_id for m in msgs] == [first, reply]
    assert msgs[0].in_sent and not msgs[1].in_sent
    assert msgs[1].in_reply_to == () and first in msgs[1].references


def test_thread_with_many_ids_is_chunked(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    first = world.send(alice, [bob], "Many")
    ids = {f"<nothing-{i}@x.test>" for i in range(35)} | {first}
    with mailbox(world, alice, config) as mb:
        assert [m.message_id for m in mb.thread(ThreadKey(frozenset(ids)))] == [first]
        assert mb.thread(ThreadKey(frozenset({"<none@x.test>"}))) == []


def test_find_message_and_find_sent(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    mine = world.send(alice, [bob], "mine")
    theirs = world.send(bob, [alice], "theirs")
    with mailbox(world, alice, config) as mb:
        found = mb.find_message(mine)
        assert found is not None and found.in_sent and found.subject == "mine"
        found = mb.find_message(theirs)
        assert found is not None and not found.in_sent and found.ref.startswith("INBOX/")
        assert mb.find_message("<missing@x.test>") is None
        ref = mb.find_sent(mine)
        assert ref is not None and ref.startswith("Sent/") and ref == mb.find_message(mine).ref
        assert mb.find_sent(theirs) is None
        assert mb.find_sent("not-an-id") is None


# -- send ----------------------------------------------------------------------------------


def test_send_delivers_in_thread_and_keeps_exactly_one_copy(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    first = world.send(alice, [bob], "Invoice 42")
    bump = make_bump(alice, [bob], "Re: Invoice 42", in_reply_to=first, references=[first])
    calls = []
    with mailbox(world, alice, config) as mb:
        assert mb.find_sent(bump.message_id) is None
        ref = mb.send(bump, before_commit=lambda: calls.append(world.sink.count(bump.message_id)))
        assert calls == [0]  # called before DATA
        assert ref.startswith("Sent/")
        assert mb.find_sent(bump.message_id) == ref
        thread = mb.thread(ThreadKey(frozenset({first})))
        assert [m.message_id for m in thread] == [first, bump.message_id]

    assert world.sink.count(bump.message_id) == 1
    [got] = world.sink.find(bump.message_id)
    assert got.mail_from == alice.email and got.rcpt_tos == [bob.email] and got.login == alice.email
    [delivered] = [m for m in world.messages(bob) if m["Message-ID"] == bump.message_id]
    assert delivered["In-Reply-To"] == first and delivered["References"] == first
    assert delivered["Subject"] == "Re: Invoice 42"
    assert world.count(alice, "Sent", bump.message_id) == 1
    assert "\\Seen" in world.flags(alice, "Sent", bump.message_id)


def test_send_does_not_duplicate_a_copy_the_server_already_filed(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    bump = make_bump(alice, [bob], "filed by the server")
    world.deliver(alice, bump.raw, folder="Sent", flags=[b"\\Seen"])  # like Gmail's MSA does
    with mailbox(world, alice, config) as mb:
        ref = mb.send(bump)
    assert ref.startswith("Sent/")
    assert world.count(alice, "Sent", bump.message_id) == 1


def test_send_never_and_broken_imap_return_an_smtp_ref(world, config, caplog):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    bump = make_bump(alice, [bob], "no copy")
    with mailbox(world, alice, config, save_sent="never") as mb:
        assert mb.send(bump) == "smtp:" + bump.message_id
    assert world.count(alice, "Sent", bump.message_id) == 0

    bump2 = make_bump(alice, [bob], "imap down")
    with mailbox(world, alice, config, imap_port=free_port()) as mb:
        assert mb.send(bump2) == "smtp:" + bump2.message_id
    assert world.sink.count(bump2.message_id) == 1
    assert "could not keep a copy in Sent" in caplog.text


def test_send_with_rejected_recipient_is_send_rejected(world, config):
    alice = world.new_user("alice")
    bump = make_bump(alice, ["nobody@nowhere.test"], "to nobody")
    world.sink.reject_next(550, "5.1.1 no such user", on="rcpt")
    with mailbox(world, alice, config) as mb, pytest.raises(SendRejected) as info:
        mb.send(bump, before_commit=lambda: pytest.fail("must not reach DATA"))
    assert "nobody@nowhere.test" in str(info.value) and "550" in str(info.value)
    assert world.sink.count(bump.message_id) == 0


def test_send_refused_or_deferred_at_data(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    bump = make_bump(alice, [bob], "data refused")
    with mailbox(world, alice, config) as mb:
        world.sink.reject_next(554, "5.7.1 spam", on="data")
        with pytest.raises(SendRejected):
            mb.send(bump)
        world.sink.reject_next(451, "4.3.0 try later", on="data")
        with pytest.raises(MailboxUnavailable):
            mb.send(bump)
    assert world.sink.count(bump.message_id) == 0


def test_connection_lost_during_data_is_send_unconfirmed(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    bump = make_bump(alice, [bob], "lost")
    world.sink.on_data = lambda envelope: time.sleep(1.5)  # the 250 comes too late
    fast = config.with_overrides(smtp_timeout=0.5)
    with mailbox(world, alice, fast) as mb, pytest.raises(SendUnconfirmed):
        mb.send(bump)
    world.sink.on_data = None
    assert world.sink.count(bump.message_id) == 1  # it did go out


# -- remind --------------------------------------------------------------------------------


def test_remind_flags_the_latest_reply_in_the_inbox(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    first = world.send(alice, [bob], "Lunch?")
    reply1 = world.send(bob, [alice], "Re: Lunch?", in_reply_to=first, references=[first])
    reply2 = world.send(bob, [alice], "Re: Lunch?", in_reply_to=reply1, references=[first, reply1])
    with IMAPClient(world.dovecot.host, world.dovecot.port, ssl=False) as c:  # alice read them
        c.login(alice.email, alice.password)
        c.select_folder("INBOX")
        c.add_flags(c.search(["ALL"]), [b"\\Seen"])
    with mailbox(world, alice, config) as mb:
        mb.remind(ThreadKey(frozenset({first})))
    assert world.flags(alice, "INBOX", reply2) == {"\\Flagged"}
    assert world.flags(alice, "INBOX", reply1) == {"\\Seen"}
    assert world.count(alice, "INBOX", first) == 0


def test_remind_copies_the_sent_message_into_the_inbox(world, config):
    alice, bob = world.new_user("alice"), world.new_user("bob")
    first = world.send(alice, [bob], "Contract")
    with mailbox(world, alice, config) as mb:
        mb.remind(ThreadKey(frozenset({first})))
    assert world.flags(alice, "INBOX", first) == {"\\Flagged"}
    assert world.count(alice, "INBOX", first) == 1
    assert world.count(alice, "Sent", first) == 1
