"""Mailbox.with_text on real servers: the bounded start of the body of messages about to be
judged (issue 18). IMAP against Dovecot, Gmail through the API emulator and the real Google
client libraries."""

from __future__ import annotations

import base64
import os
from dataclasses import replace
from pathlib import Path

import pytest

from watcher.config import Config
from watcher.imap import ImapMailbox
from watcher.mailbox import open_mailbox

BOUNCE = (
    "From: Mail Gateway <mailgw@partner.example>\nTo: {to}\nSubject: Re: Proposal\n"
    "Message-ID: <wt-bounce-{n}@partner.example>\nMIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n\n"
    "Your message to bob@partner.example couldn't be delivered.\n550 5.1.1 not found\n"
)


def big(to: str, n: int) -> str:
    blob = base64.encodebytes(os.urandom(200 * 1024)).decode()
    return (
        f"From: bob@partner.example\nTo: {to}\nSubject: Re: Proposal\n"
        f"Message-ID: <wt-big-{n}@partner.example>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\n'
        "Signed, see attached.\n--b\nContent-Type: application/pdf\n"
        f"Content-Transfer-Encoding: base64\n\n{blob}\n--b--\n"
    )


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        database_url="sqlite://",
        instance_dir=tmp_path,
        secret_key="test",
        encryption_keys=("unused",),
        imap_timeout=5.0,
        smtp_timeout=5.0,
        allow_private_mail_hosts=True,  # Dovecot listens on 127.0.0.1
    )


class Counting(ImapMailbox):
    bytes_read = 0

    def _count_commands(self, conn) -> None:
        super()._count_commands(conn)
        read = conn._imap.read

        def counting(size):
            data = read(size)
            self.bytes_read += len(data)
            return data

        conn._imap.read = counting


def test_imap_with_text_reads_the_start_of_each_body_in_one_fetch(mail_world, config):
    alice = mail_world.new_user("alice")
    with Counting(mail_world.account_spec(alice), config) as mb:
        cursor = mb.changes(None).cursor
        mail_world.deliver(alice, BOUNCE.format(to=alice.email, n=1))
        mail_world.deliver(alice, big(alice.email, 2))
        found = mb.changes(cursor).messages
        assert [m.text for m in found] == ["", ""]  # header-only: no hint in the headers
        before_cmds, before_bytes = mb.commands, mb.bytes_read
        read = mb.with_text(found)
        assert mb.commands - before_cmds <= 2  # at most a SELECT and one FETCH
        # The 200 KiB attachment is not read: 64 KiB of the big message at most.
        assert mb.bytes_read - before_bytes < 66 * 1024 + 4096
    assert [m.ref for m in read] == [m.ref for m in found]
    assert "couldn't be delivered" in read[0].text
    assert read[1].text.startswith("Signed, see attached.")


def test_imap_with_text_leaves_a_vanished_message_as_it_was(mail_world, config):
    alice = mail_world.new_user("alice")
    with ImapMailbox(mail_world.account_spec(alice), config) as mb:
        cursor = mb.changes(None).cursor
        mail_world.deliver(alice, BOUNCE.format(to=alice.email, n=3))
        (found,) = mb.changes(cursor).messages
        gone = replace(found, ref=found.ref.rsplit("/", 1)[0] + "/99999")
        assert mb.with_text([gone]) == [gone]
        assert mb.with_text([]) == []


DSN_REPORT = (
    "From: MAILER-DAEMON@mx.partner.example\nTo: {to}\nSubject: Returned mail\n"
    "Message-ID: <wt-dsn-{n}@partner.example>\nMIME-Version: 1.0\n"
    'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n\n'
    "--r\nContent-Type: text/plain\n\nDelivery to the following recipient failed.\n"
    "--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
    "Action: failed\nFinal-Recipient: rfc822; bob@partner.example\nStatus: 5.1.1\n"
    "--r--\n"
)


def test_gmail_with_text_is_one_full_get_per_message(google, gmail_config):
    alice = google.new_user("alice")
    with open_mailbox(google.account_spec(alice), gmail_config) as mb:
        cursor = mb.changes(None).cursor
        google.deliver(alice, BOUNCE.format(to=alice.email, n=4))
        (found,) = mb.changes(cursor).messages
        assert found.text == ""
        google.gmail.reset_quota()
        (read,) = mb.with_text([found])
        assert google.gmail.units(alice.email) == 5
        assert google.gmail.calls(alice.email) == {"messages.get": 1}
    assert "couldn't be delivered" in read.text and read.ref == found.ref


def test_gmail_with_text_reads_reports_and_skips_attachments(google, gmail_config):
    alice = google.new_user("alice")
    with open_mailbox(google.account_spec(alice), gmail_config) as mb:
        cursor = mb.changes(None).cursor
        google.deliver(alice, big(alice.email, 5))
        google.deliver(alice, DSN_REPORT.format(to=alice.email, n=6))
        found = mb.changes(cursor).messages
        attached, report = mb.with_text([replace(m, text="") for m in found])
    assert attached.text == "Signed, see attached."
    assert report.text.startswith("Final-Recipient: rfc822; bob@partner.example\nAction: failed")
