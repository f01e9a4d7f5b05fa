"""Trigger folders, drafts and the trigger methods: what is specific to IMAP and to Gmail.

The behaviour both implementations share is in test_mailbox_contract.py; here: cursors that
survive switching trigger folders on, the server's hierarchy delimiter and namespace prefix,
the \\Archive folder, idle cost with trigger folders on and off, Gmail's labelAdded history and
drafts, and what each costs.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
from datetime import UTC, datetime

import pytest

from tests.integration.test_mailbox_contract import draft_raw, plus
from tests.servers.dovecot import Dovecot
from tests.servers.world import MailWorld
from watcher.errors import MailboxUnavailable
from watcher.headers import is_bump_marked, summarize
from watcher.mailbox import BUMPS_FOLDER, FILED_FOLDER, TRIGGER_FOLDERS, ThreadKey, open_mailbox

# -- pure: the new summary fields -------------------------------------------------------------


def test_summary_reads_bcc_and_every_delivery_address():
    raw = (
        "From: Alice <alice@example.test>\r\n"
        "To: bob@example.test\r\n"
        'Bcc: "Me" <Alice+2W@Example.test>, carol@example.test\r\n'
        "Delivered-To: alice+2w@example.test\r\n"
        "X-Original-To: <Alice+2w@example.test>, alias@example.test\r\n"
        "Message-ID: <m1@example.test>\r\n\r\n"
    )
    s = summarize("r", raw)
    assert s.bcc == ("alice+2w@example.test", "carol@example.test")
    assert s.delivered_to == ("alice+2w@example.test", "alias@example.test")
    assert summarize("r", "From: a@b.test\r\n\r\n").delivered_to == ()


def test_bump_marker_is_the_users_own_plus_bump_address():
    s = summarize("r", "To: bob@x.test\r\nCc: Alice+Bump@Example.test\r\n\r\n")
    assert is_bump_marked(s, ["alice@example.test"])
    assert not is_bump_marked(s, ["alice@other.test"])
    assert not is_bump_marked(summarize("r", "To: bob+bump@x.test\r\n\r\n"), ["alice@x.test"])
    assert is_bump_marked(summarize("r", "Bcc: me+bump@x.test\r\n\r\n"), ["ME@x.test"])


# -- IMAP ---------------------------------------------------------------------------------------


def imap(world, user, config, trigger_folders=True):
    spec = dataclasses.replace(world.account_spec(user), trigger_folders=trigger_folders)
    return open_mailbox(spec, config)


def raw_message(sender, to, subject, body="hello", *, date=None) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: {date or email.utils.formatdate()}\r\n"
        f"Message-ID: {email.utils.make_msgid(domain='t.test')}\r\n\r\n{body}\r\n"
    ).encode()


def test_switching_trigger_folders_on_keeps_the_inbox_cursor(mail_world, config):
    alice, bob = mail_world.new_user("alice"), mail_world.new_user("bob")
    with imap(mail_world, alice, config, trigger_folders=False) as mb:
        cursor = mb.changes(None).cursor
    early = mail_world.send(alice, [bob], "Moved before the folders were watched")
    with imap(mail_world, alice, config) as mb:
        mb.ensure_trigger_folders()
    mail_world.move(alice, early, "Replywatch/2 weeks")
    reply = mail_world.send(bob, [alice], "Arrived meanwhile")
    with imap(mail_world, alice, config) as mb:
        first = mb.changes(cursor)
        # INBOX/Sent go on from the old cursor; the trigger folders get their baseline.
        assert not first.cursor_reset
        assert [m.message_id for m in first.messages] == [reply]
        later = mail_world.send(alice, [bob], "Moved after")
        mail_world.move(alice, later, "Replywatch/2 weeks")
        second = mb.changes(first.cursor)
        assert [(m.message_id, m.folder) for m in second.messages] == [
            (later, "Replywatch/2 weeks")
        ]
        assert second.messages[0].ref.startswith("Trigger2w/")


def test_a_trigger_folder_deleted_or_recreated_never_resets_the_cursor(mail_world, config):
    alice, bob = mail_world.new_user("alice"), mail_world.new_user("bob")
    with imap(mail_world, alice, config) as mb:
        mb.ensure_trigger_folders()
        cursor = mb.changes(None).cursor
    assert "Trigger1w" in json.loads(cursor)["folders"]
    with mail_world._imap(alice) as c:
        c.delete_folder("Replywatch/1 week")
    # One mailbox per pass, as the engine opens them: the folder LIST is read per connection.
    with imap(mail_world, alice, config) as mb:
        gone = mb.changes(cursor)
    assert not gone.cursor_reset and gone.messages == []
    assert "Trigger1w" not in json.loads(gone.cursor)["folders"]
    mail_world.deliver(alice, raw_message(bob.email, alice.email, "old"), "Replywatch/1 week")
    with imap(mail_world, alice, config) as mb:
        back = mb.changes(gone.cursor)  # re-created with one message in it: its baseline
    assert not back.cursor_reset and back.messages == []
    assert json.loads(back.cursor)["folders"]["Trigger1w"]["uidnext"] == 2
    sent = mail_world.send(alice, [bob], "Now")
    mail_world.move(alice, sent, "Replywatch/1 week")
    with imap(mail_world, alice, config) as mb:
        assert [m.message_id for m in mb.changes(back.cursor).messages] == [sent]


def test_idle_cost_without_trigger_folders_is_unchanged_and_with_them_one_status_each(
    mail_world, config
):
    alice = mail_world.new_user("alice")
    with imap(mail_world, alice, config) as mb:
        mb.ensure_trigger_folders()
    costs = {}
    for on in (False, True):
        with imap(mail_world, alice, config, trigger_folders=on) as mb:
            cursor = mb.changes(None).cursor
            fresh = mb.commands
            before = mb.commands
            again = mb.changes(cursor)
            assert again.messages == [] and again.cursor == cursor
            costs[on] = (fresh, mb.commands - before)
    assert costs[False] == (4, 2)  # LOGIN, LIST, STATUS INBOX, STATUS Sent; idle: 2 STATUS
    assert costs[True] == (9, 7)  # + STATUS of 3 trigger folders, Bumps and Drafts


def test_trigger_folder_messages_carry_flags_and_a_foreign_one_goes_back_to_the_inbox(
    mail_world, config
):
    alice, bob = mail_world.new_user("alice"), mail_world.new_user("bob")
    with imap(mail_world, alice, config) as mb:
        mb.ensure_trigger_folders()
        cursor = mb.changes(None).cursor
        foreign = raw_message(bob.email, alice.email, "dragged from the inbox")
        mail_world.deliver(alice, foreign, "Replywatch/3 days")
        draft = raw_message(alice.email, bob.email, "Re: x", "bump text")
        mail_world.deliver(alice, draft, BUMPS_FOLDER)  # no \Draft flag: still a draft there
        flagged = raw_message(alice.email, bob.email, "flagged draft")
        mail_world.deliver(alice, flagged, "Replywatch/3 days", flags=[b"\\Draft"])
        got = {m.subject: m for m in mb.changes(cursor).messages}
        assert {s: (m.folder, m.is_draft) for s, m in got.items()} == {
            "dragged from the inbox": ("Replywatch/3 days", False),
            "Re: x": (BUMPS_FOLDER, True),
            "flagged draft": ("Replywatch/3 days", True),
        }
        mb.release_trigger(got["dragged from the inbox"].ref)
    assert [m["Subject"] for m in mail_world.messages(alice)] == ["dragged from the inbox"]
    assert [m["Subject"] for m in mail_world.messages(alice, "Replywatch/3 days")] == [
        "flagged draft"
    ]


def test_delivered_mail_in_a_replywatch_folder_is_never_the_users_own(mail_world, config):
    """Some servers file mail to user+folder@… into that folder: what a server delivered (it
    carries Return-Path / Delivered-To, RFC 5321 4.4) is no sent message and no draft there,
    whatever its From says; what the user moved from Sent or saved as a draft is."""
    alice, bob = mail_world.new_user("alice"), mail_world.new_user("bob")
    trace = f"Return-Path: <x@evil.example>\r\nDelivered-To: {alice.email}\r\n".encode()
    with imap(mail_world, alice, config) as mb:
        mb.ensure_trigger_folders()
        cursor = mb.changes(None).cursor
        moved = raw_message(alice.email, bob.email, "moved from Sent")
        mail_world.deliver(alice, moved, "Replywatch/3 days")
        mail_world.deliver(
            alice, trace + raw_message(alice.email, bob.email, "filed"), "Replywatch/3 days"
        )
        bump = trace + raw_message(alice.email, bob.email, "Re: delivered bump text")
        mail_world.deliver(alice, bump, BUMPS_FOLDER)
        flagged = trace + raw_message(alice.email, bob.email, "Re: flagged")
        mail_world.deliver(alice, flagged, BUMPS_FOLDER, flags=[b"\\Draft"])
        got = {m.subject: m for m in mb.changes(cursor).messages}
        assert {s: (m.in_sent, m.is_draft) for s, m in got.items()} == {
            "moved from Sent": (True, False),
            "filed": (False, False),
            "Re: delivered bump text": (False, False),
            "Re: flagged": (False, True),  # \Draft: only the user's client sets it
        }
        mb.release_trigger(got["filed"].ref)
        mb.release_trigger(got["moved from Sent"].ref)
    assert [m["Subject"] for m in mail_world.messages(alice)] == ["filed"]
    assert [m["Subject"] for m in mail_world.messages(alice, "Sent")] == ["moved from Sent"]


def test_file_away_without_archive_creates_the_filed_folder_marked_read(mail_world, config):
    alice, bob = mail_world.new_user("alice"), mail_world.new_user("bob")
    with imap(mail_world, alice, config) as mb:
        cursor = mb.changes(None).cursor
        sent = mail_world.send(alice, [bob], "Deal", bcc=[plus(alice, "3d")])
        [copy] = [m for m in mb.changes(cursor).messages if not m.in_sent]
        assert copy.message_id == sent and copy.delivered_to == (plus(alice, "3d"),)
        mb.file_away(copy.ref)
    assert FILED_FOLDER in mail_world.folders(alice)
    assert mail_world.count(alice, "INBOX", sent) == 0
    assert mail_world.flags(alice, FILED_FOLDER, sent) == {"\\Seen"}


def inbox_copies(mb, message_id):
    """The INBOX copy of a message (IMAP thread() prefers the Sent copy of the same id)."""
    return [m for m in mb.thread(ThreadKey(frozenset({message_id}))) if m.ref.startswith("INBOX/")]


def test_refs_that_no_longer_match_are_quietly_nothing(mail_world, config):
    alice, bob = mail_world.new_user("alice"), mail_world.new_user("bob")
    hi = mail_world.send(bob, [alice], "Hi")
    with imap(mail_world, alice, config) as mb:
        [m] = inbox_copies(mb, hi)
        role, validity, uid = m.ref.split("/")
        for ref in (f"{role}/{int(validity) + 1}/{uid}", f"{role}/{validity}/999", "junk", "X/1/1"):
            assert mb.message_text(ref) == ""
            mb.file_away(ref)
            mb.release_trigger(ref)
            mb.discard_draft(ref)
        assert mb.message_text(m.ref).strip() == "(no body)"
    assert mail_world.count(alice, "INBOX", m.message_id) == 1


@pytest.fixture(scope="module")
def dotted_dovecot():
    """A second Dovecot whose folders look like Courier's: "." delimiter, "INBOX." prefix,
    and an \\Archive folder."""
    server = Dovecot()
    with open(server.conf) as f:
        conf = f.read()
    conf = conf.replace(
        "  separator = /\n",
        "  separator = .\n  prefix = INBOX.\n"
        "  mailbox Archive {\n    special_use = \\Archive\n    auto = subscribe\n  }\n",
    )
    with open(server.conf, "w") as f:
        f.write(conf)
    server.start()
    yield server
    server.stop()


def test_delimiter_and_prefix_are_mapped_and_archive_is_used(dotted_dovecot, smtp_sink, config):
    world = MailWorld(dotted_dovecot, smtp_sink)
    alice = world.new_user("alice")
    assert world.folder_name(alice, "Replywatch/1 week") == "INBOX.Replywatch.1 week"
    with imap(world, alice, config) as mb:
        mb.ensure_trigger_folders()
        cursor = mb.changes(None).cursor
        names = set(world.folders(alice))
        assert {f"INBOX.{n.replace('/', '.')}" for n in (*TRIGGER_FOLDERS, BUMPS_FOLDER)} <= names
        mine = raw_message(alice.email, "bob@x.test", "Dotted")
        world.deliver(alice, mine, "Replywatch/1 week")
        world.deliver(alice, raw_message("bob@x.test", alice.email, "Incoming"))
        got = {m.subject: m for m in mb.changes(cursor).messages}
        assert got["Dotted"].folder == "Replywatch/1 week" and got["Incoming"].folder == ""
        mb.release_trigger(got["Dotted"].ref)  # from alice: back to INBOX.Sent
        mb.file_away(got["Incoming"].ref)  # to the \Archive folder
    assert [m["Subject"] for m in world.messages(alice, "INBOX.Sent")] == ["Dotted"]
    assert [m["Subject"] for m in world.messages(alice, "INBOX.Archive")] == ["Incoming"]
    assert world.messages(alice) == [] and "INBOX.Replywatch.Filed" not in world.folders(alice)


def test_imap_faults_keep_their_types(mail_world, config):
    alice = mail_world.new_user("alice")
    spec = dataclasses.replace(mail_world.account_spec(alice, imap_port=1), trigger_folders=True)
    with open_mailbox(spec, config) as mb, pytest.raises(MailboxUnavailable):
        mb.ensure_trigger_folders()


# -- Gmail --------------------------------------------------------------------------------------


def gmail(google, user, config, trigger_folders=True):
    spec = dataclasses.replace(google.account_spec(user), trigger_folders=trigger_folders)
    return open_mailbox(spec, config)


def test_gmail_label_added_to_an_old_sent_message_is_reported_once_labels_read_once(
    google, gmail_config
):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    g = google.gmail
    old = google.send(alice, [bob], "Sent last week")
    [msg] = g.find(alice.email, old)
    with gmail(google, alice, gmail_config) as mb:
        mb.ensure_trigger_folders()
        cursor = mb.changes(None).cursor
        before = g.units(alice.email)
        assert mb.changes(cursor).messages == [] and g.units(alice.email) - before == 1
        g.add_label(alice.email, msg.id, "Replywatch/2 weeks")
        first = mb.changes(cursor)
        assert [(m.message_id, m.folder, m.is_draft) for m in first.messages] == [
            (old, "Replywatch/2 weeks", False)
        ]
        g.add_label(alice.email, msg.id, "Some label of her own")
        assert mb.changes(first.cursor).messages == []  # not a trigger label
        assert mb.calls["labels.list"] == 2  # ensure_trigger_folders + once for the ids
        mb.release_trigger(first.messages[0].ref)
    assert "Replywatch/2 weeks" not in g.label_names(alice.email, msg)


def test_gmail_label_added_then_removed_before_the_pass_is_not_reported(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    g = google.gmail
    [msg] = g.find(alice.email, google.send(alice, [bob], "Changed my mind"))
    with gmail(google, alice, gmail_config) as mb:
        cursor = mb.changes(None).cursor
        g.add_label(alice.email, msg.id, "Replywatch/3 days")
        g.remove_label(alice.email, msg.id, "Replywatch/3 days")
        assert mb.changes(cursor).messages == []


def test_gmail_without_trigger_folders_asks_for_message_added_only(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    g = google.gmail
    [msg] = g.find(alice.email, google.send(alice, [bob], "Plain"))
    with gmail(google, alice, gmail_config, trigger_folders=False) as mb:
        cursor = mb.changes(None).cursor
        g.add_label(alice.email, msg.id, "Replywatch/3 days")
        g.create_draft(alice.email, draft_raw(alice, [bob], "Re: Plain", "x"), (BUMPS_FOLDER,))
        assert mb.changes(cursor).messages == []
        assert mb.calls["labels.list"] == 0 and mb.calls["messages.get"] == 0


def test_gmail_bumps_label_put_on_a_draft_later_is_reported(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    g = google.gmail
    sent = google.send(alice, [bob], "Plan")
    with gmail(google, alice, gmail_config) as mb:
        cursor = mb.changes(None).cursor
        draft = g.create_draft(
            alice.email, draft_raw(alice, [bob], "Re: Plan", "nudge", in_reply_to=sent)
        )
        first = mb.changes(cursor)
        assert first.messages == []  # a plain draft: skipped
        g.add_label(alice.email, draft.id, BUMPS_FOLDER)
        [got] = mb.changes(first.cursor).messages
        assert (got.ref, got.folder, got.is_draft) == (draft.id, BUMPS_FOLDER, True)
        assert mb.message_text(got.ref).strip() == "nudge"
        before = g.units(alice.email)
        mb.discard_draft(got.ref)
        assert g.units(alice.email) - before == 5 + 10  # drafts.list + drafts.delete
        assert g.drafts_of(alice.email) == {}
        mb.discard_draft(got.ref)


def test_gmail_plus_address_to_oneself_is_one_message_sent_and_in_the_inbox(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    sent = google.send(alice, [bob], "Bcc me", extra_headers={"Bcc": plus(alice, "1w")})
    [msg] = google.gmail.find(alice.email, sent)
    assert {"SENT", "INBOX", "UNREAD"} <= msg.labels
    with gmail(google, alice, gmail_config) as mb:
        [summary] = mb.recent_sent(datetime(2000, 1, 1, tzinfo=UTC))
        assert summary.bcc == (plus(alice, "1w"),) and summary.in_sent
        before = google.gmail.units(alice.email)
        mb.file_away(summary.ref)
        assert google.gmail.units(alice.email) - before == 5
    assert msg.labels & {"INBOX", "UNREAD"} == set() and "SENT" in msg.labels
    assert [m.id for m in google.gmail.messages(bob.email) if m.message_id == sent]
    assert not any("Bcc" in m.parsed for m in google.gmail.messages(bob.email))


def test_gmail_ensure_trigger_folders_tolerates_a_race_and_costs_one_list_when_done(
    google, gmail_config
):
    alice = google.new_user("alice")
    google.gmail.fail("labels.create", 409, message="Label name exists or conflicts")
    with gmail(google, alice, gmail_config) as mb:
        mb.ensure_trigger_folders()  # the first create answers 409: another process made it
    with gmail(google, alice, gmail_config) as mb:
        mb.ensure_trigger_folders()  # the one still missing
        before = google.gmail.units(alice.email)
        mb.ensure_trigger_folders()
        assert google.gmail.units(alice.email) - before == 1
    names = {lab["name"] for lab in google.gmail.users[alice.email].labels.values()}
    assert {*TRIGGER_FOLDERS, BUMPS_FOLDER} <= names


def test_gmail_faults_keep_their_types_and_gone_messages_are_nothing(google, gmail_config):
    alice, bob = google.new_user("alice"), google.new_user("bob")
    [msg] = google.gmail.find(alice.email, google.send(bob, [alice], "Hi"))
    with gmail(google, alice, gmail_config) as mb:
        google.gmail.fail("messages.modify", 503)
        with pytest.raises(MailboxUnavailable):
            mb.file_away(msg.id)
        assert mb.message_text("00000000000000ff") == ""
        mb.file_away("00000000000000ff")
        mb.release_trigger("00000000000000ff")
        mb.discard_draft("00000000000000ff")
