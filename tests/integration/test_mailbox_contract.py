"""The Mailbox contract: the same tests against every implementation.

ImapMailbox runs on Dovecot + the SMTP sink (tests/servers), GmailMailbox on the Gmail and OAuth
emulators (tests/emulators). Each backend is a small adapter giving people, "the user writes
from their mail client", mail arriving from outside, and a look at the server's side.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from tests.integration.test_gmail_mailbox import bump_for
from watcher.mailbox import (
    BUMPS_FOLDER,
    TRIGGER_FOLDERS,
    Mailbox,
    ThreadKey,
    open_mailbox,
)


def plus(user, tag: str) -> str:
    """The user's own plus-address: alice-3+2w@example.test."""
    local, _, domain = user.email.partition("@")
    return f"{local}+{tag}@{domain}"


def draft_raw(user, to, subject, body, *, in_reply_to=None) -> bytes:
    msg = EmailMessage()
    msg["From"] = user.email
    msg["To"] = ", ".join(str(t) for t in to)
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate()
    msg["Message-ID"] = email.utils.make_msgid(domain="drafts.test")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes()


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

    def mailbox(self, user, trigger_folders: bool = False) -> Mailbox:
        spec = dataclasses.replace(self.world.account_spec(user), trigger_folders=trigger_folders)
        return open_mailbox(spec, self.config)

    def folders(self, user) -> set[str]:
        return set(self.world.folders(user))

    def put_in_trigger(self, user, message_id, folder) -> None:
        """The user drags a sent message into a trigger folder."""
        self.world.move(user, message_id, folder)

    def save_draft(self, user, to, subject, body, *, folder=None, in_reply_to=None) -> str:
        return self.world.save_draft(
            user, to, subject, body, folder=folder or "Drafts", in_reply_to=in_reply_to
        )

    def has_draft(self, user, message_id) -> bool:
        return any(
            self.world.count(user, self.world.folder_name(user, f), message_id)
            for f in ("Drafts", BUMPS_FOLDER)
        )

    def in_folder(self, user, message_id, folder) -> bool:
        return self.world.count(user, self.world.folder_name(user, folder), message_id) > 0

    def in_inbox_unread(self, user, message_id) -> tuple[bool, bool]:
        if not self.in_folder(user, message_id, "INBOX"):
            return False, False
        return True, "\\Seen" not in self.world.flags(user, "INBOX", message_id)

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

    def send(self, *args, bcc=(), **kw) -> str:
        if bcc:  # Gmail's web UI: the Bcc header of the message sent
            kw["extra_headers"] = {**kw.get("extra_headers", {}), "Bcc": ", ".join(bcc)}
        return self.google.send(*args, **kw)

    def deliver(self, user, raw) -> None:
        self.google.deliver(user, raw)

    def mailbox(self, user, trigger_folders: bool = False) -> Mailbox:
        spec = dataclasses.replace(self.google.account_spec(user), trigger_folders=trigger_folders)
        return open_mailbox(spec, self.config)

    def folders(self, user) -> set[str]:
        box = self.google.gmail.users[user.email]
        return {label["name"] for label in box.labels.values()}

    def put_in_trigger(self, user, message_id, folder) -> None:
        [msg] = [m for m in self.google.gmail.find(user.email, message_id) if "SENT" in m.labels]
        self.google.gmail.add_label(user.email, msg.id, folder)

    def save_draft(self, user, to, subject, body, *, folder=None, in_reply_to=None) -> str:
        raw = draft_raw(user, to, subject, body, in_reply_to=in_reply_to)
        labels = (folder,) if folder else ()
        return self.google.gmail.create_draft(user.email, raw, labels).message_id

    def has_draft(self, user, message_id) -> bool:
        drafts = self.google.gmail.drafts_of(user.email).values()
        return any(m.message_id == message_id for m in drafts)

    def in_folder(self, user, message_id, folder) -> bool:
        names = {"Sent": "SENT"}.get(folder, folder)
        return any(
            names in self.google.gmail.label_names(user.email, m)
            for m in self.google.gmail.find(user.email, message_id)
        )

    def in_inbox_unread(self, user, message_id) -> tuple[bool, bool]:
        labels = set()
        for m in self.google.gmail.find(user.email, message_id):
            labels |= m.labels
        return "INBOX" in labels, "UNREAD" in labels

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


# -- triggers ---------------------------------------------------------------------------------


def test_summaries_carry_bcc_on_sent_copies_and_delivered_to_on_inbox_copies(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    with backend.mailbox(alice) as mine, backend.mailbox(bob) as theirs:
        cursors = mine.changes(None).cursor, theirs.changes(None).cursor
        sent = backend.send(alice, [bob], "Offer", bcc=[plus(alice, "2w")])
        [copy] = [m for m in mine.changes(cursors[0]).messages if m.in_sent]
        [got] = theirs.changes(cursors[1]).messages
    assert copy.message_id == sent and copy.bcc == (plus(alice, "2w"),)
    assert got.message_id == sent and got.bcc == () and got.delivered_to == (bob.email,)


def test_ensure_trigger_folders_is_idempotent(backend):
    alice = backend.new_user("alice")
    with backend.mailbox(alice, trigger_folders=True) as one:
        one.ensure_trigger_folders()
        with backend.mailbox(alice, trigger_folders=True) as other:  # another process
            other.ensure_trigger_folders()
        one.ensure_trigger_folders()
    wanted = {*TRIGGER_FOLDERS, BUMPS_FOLDER}
    assert wanted <= backend.folders(alice)
    assert len([f for f in backend.folders(alice) if f in wanted]) == len(wanted)


def test_a_sent_message_put_in_a_trigger_folder_is_reported_then_released(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    with backend.mailbox(alice, trigger_folders=True) as mb:
        mb.ensure_trigger_folders()
        cursor = mb.changes(None).cursor
        sent = backend.send(alice, [bob], "Quarterly numbers")
        backend.put_in_trigger(alice, sent, "Replywatch/1 week")
        changes = mb.changes(cursor)
        assert not changes.cursor_reset
        [hit] = [m for m in changes.messages if m.folder]
        assert hit.folder == "Replywatch/1 week" and hit.message_id == sent
        assert not hit.is_draft and hit.from_addr == alice.email and hit.to == (bob.email,)
        assert all(m.folder == "" for m in changes.messages if m is not hit)
        mb.release_trigger(hit.ref)
        mb.release_trigger(hit.ref)  # gone from there now: not an error
        assert [m for m in mb.changes(changes.cursor).messages if m.folder] == []
    assert not backend.in_folder(alice, sent, "Replywatch/1 week")
    assert backend.in_folder(alice, sent, "Sent")


def test_trigger_folders_off_reports_nothing_from_them(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    with backend.mailbox(alice, trigger_folders=True) as mb:
        mb.ensure_trigger_folders()
    with backend.mailbox(alice) as mb:
        cursor = mb.changes(None).cursor
        sent = backend.send(alice, [bob], "Not watched")
        backend.put_in_trigger(alice, sent, "Replywatch/3 days")
        backend.save_draft(alice, [bob], "Re: Not watched", "ping", folder=BUMPS_FOLDER)
        changes = mb.changes(cursor)
    assert not changes.cursor_reset
    assert [m for m in changes.messages if m.folder or m.is_draft] == []


def test_bump_drafts_are_reported_as_drafts_and_other_drafts_are_not(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    sent = backend.send(alice, [bob], "Proposal")
    with backend.mailbox(alice, trigger_folders=True) as mb:
        mb.ensure_trigger_folders()
        cursor = mb.changes(None).cursor
        filed = backend.save_draft(
            alice, [bob], "Re: Proposal", "Any news on this?", folder=BUMPS_FOLDER, in_reply_to=sent
        )
        marked = backend.save_draft(
            alice, [bob, plus(alice, "bump")], "Re: Proposal", "Second nudge", in_reply_to=sent
        )
        plain = backend.save_draft(alice, [bob], "Unrelated", "just a draft")
        changes = mb.changes(cursor)
        got = {m.message_id: m for m in changes.messages}
        assert filed in got and marked in got and plain not in got
        assert got[filed].is_draft and got[filed].folder == BUMPS_FOLDER
        assert got[marked].is_draft and got[marked].folder == ""
        assert got[filed].in_reply_to == (sent,)
        assert "Any news on this?" in mb.message_text(got[filed].ref)
        mb.discard_draft(got[filed].ref)
        assert not backend.has_draft(alice, filed) and backend.has_draft(alice, marked)
        mb.discard_draft(got[filed].ref)  # gone: fine
        assert mb.message_text(got[filed].ref) == ""
        mb.file_away(got[filed].ref)
        mb.release_trigger(got[filed].ref)


def test_file_away_takes_the_trigger_copy_out_of_the_inbox_read(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    with backend.mailbox(alice) as mb:
        cursor = mb.changes(None).cursor
        sent = backend.send(alice, [bob], "Contract", bcc=[plus(alice, "2w")])
        assert backend.in_inbox_unread(alice, sent) == (True, True)
        [copy] = [
            m for m in mb.changes(cursor).messages if not m.in_sent or backend.name == "gmail"
        ]
        mb.file_away(copy.ref)
        mb.file_away(copy.ref)  # already gone from the inbox: fine
    assert backend.in_inbox_unread(alice, sent) == (False, False)
    assert backend.in_folder(alice, sent, "Sent")


def test_recent_sent_is_newest_first_within_the_window(backend):
    alice, bob = backend.new_user("alice"), backend.new_user("bob")
    now = datetime.now(UTC)

    def dated(**ago) -> str:
        return email.utils.format_datetime(now - timedelta(**ago))

    old = backend.send(alice, [bob], "Long ago", date=dated(days=30))
    older = backend.send(alice, [bob], "Two hours ago", date=dated(hours=2))
    newer = backend.send(alice, [bob], "One hour ago", date=dated(hours=1))
    backend.send(bob, [alice], "Not mine", date=dated(minutes=30))
    with backend.mailbox(alice) as mb:
        recent = mb.recent_sent(now - timedelta(days=7))
        assert [m.message_id for m in recent] == [newer, older]
        assert all(m.in_sent for m in recent) and old not in {m.message_id for m in recent}
        assert [m.message_id for m in mb.recent_sent(now - timedelta(days=7), limit=1)] == [newer]


def test_messages_from_finds_a_correspondents_mail_newest_first(backend):
    alice, bob, carol = (backend.new_user(n) for n in ("alice", "bob", "carol"))
    now = datetime.now(UTC)
    ids = [
        backend.send(
            bob, [alice], f"Note {i}", date=email.utils.format_datetime(now - timedelta(hours=i))
        )
        for i in (3, 2, 1)
    ]
    backend.send(carol, [alice], "Other sender")
    backend.send(alice, [bob], "Mine to bob")
    with backend.mailbox(alice) as mb:
        found = mb.messages_from(bob.email.upper())
        assert [m.message_id for m in found] == ids[::-1]
        assert {m.from_addr for m in found} == {bob.email}
        assert found[0].date_offset_minutes == 0
        assert len(mb.messages_from(bob.email, limit=2)) == 2
        assert mb.messages_from('x" OR ALL') == []
