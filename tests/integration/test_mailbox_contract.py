"""The Mailbox contract: the same tests against every implementation.

ImapMailbox runs on Dovecot + the SMTP sink (tests/servers), GmailMailbox on the Gmail and OAuth
emulators (tests/emulators). Each backend is a small adapter giving people, "the user writes
from their mail client", mail arriving from outside, and a look at the server's side.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.test_gmail_mailbox import bump_for
from watcher.mailbox import Mailbox, ThreadKey, open_mailbox


class ImapBackend:
    name = "imap"

    def __init__(self, world, config):
        self.world, self.config = world, config

    def new_user(self, name):
        return self.world.new_user(name)

    def send(self, *args, **kw) -> str:
        return self.world.send(*args, **kw)

    def deliver(self, user, raw) -> None:
        self.world.deliver(user, raw)

    def mailbox(self, user) -> Mailbox:
        return open_mailbox(self.world.account_spec(user), self.config)

    def stale(self, user, cursor: str) -> str:
        data = json.loads(cursor)  # a cursor from before INBOX was re-created
        data["folders"]["INBOX"]["uidvalidity"] += 1
        return json.dumps(data)

    def received(self, user, message_id):
        return [m for m in self.world.messages(user) if m["Message-ID"] == message_id]

    def reminded(self, user, message_id) -> bool:
        flags = self.world.flags(user, "INBOX", message_id)
        return "\\Flagged" in flags and "\\Seen" not in flags


class GmailBackend:
    name = "gmail"

    def __init__(self, google, config):
        self.google, self.config = google, config

    def new_user(self, name):
        return self.google.new_user(name)

    def send(self, *args, **kw) -> str:
        return self.google.send(*args, **kw)

    def deliver(self, user, raw) -> None:
        self.google.deliver(user, raw)

    def mailbox(self, user) -> Mailbox:
        return open_mailbox(self.google.account_spec(user), self.config)

    def stale(self, user, cursor: str) -> str:
        self.google.gmail.expire_history(user.email)  # Gmail keeps history for about a week
        return cursor

    def received(self, user, message_id):
        return [m.parsed for m in self.google.gmail.find(user.email, message_id)]

    def reminded(self, user, message_id) -> bool:
        [msg] = self.google.gmail.find(user.email, message_id)
        return {"INBOX", "UNREAD", "Replywatch"} <= self.google.gmail.label_names(user.email, msg)


@pytest.fixture(params=["imap", "gmail"])
def backend(request, config):
    if request.param == "imap":
        return ImapBackend(request.getfixturevalue("mail_world"), config)
    return GmailBackend(request.getfixturevalue("google"), request.getfixturevalue("gmail_config"))


def test_changes_after_a_cursor_are_the_new_messages_only(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    old = backend.send(bob, [alice], "before the baseline")
    with backend.mailbox(alice) as mb:
        baseline = mb.changes(None)
        assert baseline.cursor_reset and baseline.messages == []
        mine = backend.send(alice, [bob], "Proposal")
        reply = backend.send(bob, [alice], "Re: Proposal", in_reply_to=mine, references=[mine])
        changes = mb.changes(baseline.cursor)
        assert not changes.cursor_reset
        got = {m.message_id: m for m in changes.messages}
        assert set(got) == {mine, reply} and old not in got
        assert got[mine].in_sent and not got[reply].in_sent
        assert got[reply].in_reply_to == (mine,) and got[reply].from_addr == bob.email
        assert mb.changes(changes.cursor).messages == []


def test_a_cursor_too_old_is_a_reset(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    with backend.mailbox(alice) as mb:
        cursor = mb.changes(None).cursor
        backend.send(bob, [alice], "while away")
        changes = mb.changes(backend.stale(alice, cursor))
        assert changes.cursor_reset and changes.messages == []
        backend.send(bob, [alice], "after the reset")
        assert [m.subject for m in mb.changes(changes.cursor).messages] == ["after the reset"]


def test_thread_read_returns_the_conversation_in_order(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    first = backend.send(alice, [bob], "Lunch?")
    reply = backend.send(bob, [alice], "Re: Lunch?", in_reply_to=first, references=[first])
    backend.send(bob, [alice], "Unrelated")
    with backend.mailbox(alice) as mb:
        thread = mb.thread(ThreadKey(frozenset({first})))
        assert [m.message_id for m in thread] == [first, reply]
        assert thread[0].in_sent and thread[1].from_addr == bob.email
        again = mb.thread(ThreadKey(frozenset({first}), thread_ref=thread[-1].thread_ref))
        assert [m.message_id for m in again] == [first, reply]


def test_send_threads_correctly(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    first = backend.send(alice, [bob], "Invoice 42")
    with backend.mailbox(alice) as mb:
        key = ThreadKey(frozenset({first}))
        latest = mb.thread(key)[-1]
        bump = bump_for(
            alice,
            [bob],
            "Re: Invoice 42",
            in_reply_to=first,
            references=[first],
            thread_ref=latest.thread_ref,
        )
        calls = []
        ref = mb.send(
            bump, before_commit=lambda: calls.append(backend.received(bob, bump.message_id))
        )
        assert calls == [[]]  # called before the hand-over
        assert [m.message_id for m in mb.thread(key)] == [first, bump.message_id]
        assert mb.find_sent(bump.message_id) == ref
    [got] = backend.received(bob, bump.message_id)
    assert got["In-Reply-To"] == first and got["Subject"] == "Re: Invoice 42"


def test_find_sent_after_a_crash_finds_the_earlier_send(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    first = backend.send(alice, [bob], "Contract")
    bump = bump_for(alice, [bob], "Re: Contract", in_reply_to=first, references=[first])
    with backend.mailbox(alice) as mb:
        assert mb.find_sent(bump.message_id) is None
        ref = mb.send(bump)
    # The watcher died before recording the send; a new process asks the mailbox.
    with backend.mailbox(alice) as mb:
        assert mb.find_sent(bump.message_id) == ref
        assert mb.find_sent("<never-sent@replywatch.test>") is None
    assert len(backend.received(bob, bump.message_id)) == 1


def test_remind_brings_the_thread_back_unread(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    first = backend.send(alice, [bob], "Quote")
    with backend.mailbox(alice) as mb:
        mb.remind(ThreadKey(frozenset({first})))
    assert backend.reminded(alice, first)
