"""Table-driven tests for send-later tags (me+later-2w@… on a draft), the outgoing message built
from a draft and "unless they wrote first" (watcher.later.tags, .message, .unless_reply).

Dates used below: 2026-11-25 is a Wednesday; Europe/Berlin is UTC+1 in winter.
"""

import email
import email.policy
from datetime import UTC, date, datetime

import pytest

from watcher.errors import ValidationError
from watcher.headers import is_marked_draft
from watcher.later.message import later_message_id, outgoing, recipients_of
from watcher.later.tags import is_later_tag, parse_later_tag
from watcher.later.unless_reply import written_since
from watcher.mailbox import MessageSummary
from watcher.schedule import Delay, SendingWindow, parse_plus_tag


def Z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


NOW = Z("2026-11-25T10:00:00")  # Wednesday
WORK = SendingWindow.parse("Europe/Berlin", "mon-fri", "09:00-17:00")


@pytest.mark.parametrize(
    "tag, when, unless, then",
    [
        ("later-2w", Delay(2, "weeks"), True, None),
        ("LATER-3d", Delay(3, "days"), True, None),
        ("later-5bd", Delay(5, "business_days"), True, None),
        ("later-12h", Delay(12, "hours"), True, None),
        ("later-mon", "mon", True, None),
        ("later-monday", "mon", True, None),
        ("later-tomorrow", "tomorrow", True, None),
        ("later-2026-12-20", date(2026, 12, 20), True, None),
        ("later-2w-always", Delay(2, "weeks"), False, None),
        ("later-2w-then-1w", Delay(2, "weeks"), True, "1w"),
        ("later-2w-then-3d-1w", Delay(2, "weeks"), True, "3d-1w"),
        ("later-2w-then-1w-remind", Delay(2, "weeks"), True, "1w-remind"),
        ("later-2w-always-then-1w", Delay(2, "weeks"), False, "1w"),
        ("later-2w-then-1w-always", Delay(2, "weeks"), False, "1w"),
        ("later-2026-12-20-then-fri", date(2026, 12, 20), True, "fri"),
    ],
)
def test_later_tags_read(tag, when, unless, then):
    parsed = parse_later_tag(tag)
    assert parsed.when == when
    assert parsed.unless_reply is unless
    assert (str(parsed.then) if parsed.then else None) == then


@pytest.mark.parametrize(
    "tag, problem, lists_the_forms",
    [
        ("later", "does not say when", True),
        ("later-always", "does not say when", True),
        ("later-2x", "'2x' is not a time", True),
        ("later-2w-1w", "is not one time", True),
        ("later-2w-then", "-then needs a delay", False),
        ("later-2w-then-2x", "the follow-up after it", False),
        ("later-2026-02-30", "not a real date", False),
        ("later-0d", "is not a time", True),
        ("2w", "not a send-later tag", True),
    ],
)
def test_bad_later_tags_say_what_is_wrong(tag, problem, lists_the_forms):
    with pytest.raises(ValidationError) as e:
        parse_later_tag(tag)
    assert problem in e.value.message
    assert ("later-WHEN on a draft" in e.value.message) is lists_the_forms


@pytest.mark.parametrize(
    "tag, expected",
    [
        ("later-2w", Z("2026-12-09T10:00:00")),  # 11:00 Berlin: inside the window
        ("later-12h", Z("2026-11-26T08:00:00")),  # 23:00 Berlin -> 09:00 Thursday
        ("later-mon", Z("2026-11-30T08:00:00")),  # Monday at the window's start
        ("later-tomorrow", Z("2026-11-26T08:00:00")),
        ("later-2026-12-20", Z("2026-12-21T08:00:00")),  # a Sunday -> Monday 09:00
        ("later-2026-11-25", Z("2026-11-25T10:00:00")),  # today: as soon as the window allows
    ],
)
def test_send_at_keeps_the_sending_window(tag, expected):
    assert parse_later_tag(tag).send_at(NOW, WORK) == expected


def test_a_date_in_the_past_is_refused():
    with pytest.raises(ValidationError) as e:
        parse_later_tag("later-2026-11-24").send_at(NOW, WORK)
    assert "in the past" in e.value.message


@pytest.mark.parametrize(
    "tag, yes",
    [("later", True), ("later-2w", True), ("Later-mon", True), ("laterx", False),
     ("2w", False), ("bump", False), (None, False)],
)  # fmt: skip
def test_is_later_tag(tag, yes):
    assert is_later_tag(tag) is yes


def test_a_plus_tag_on_sent_mail_that_says_later_explains_drafts():
    with pytest.raises(ValidationError) as e:
        parse_plus_tag("later-2w")
    assert "save the message as a draft" in e.value.message


@pytest.mark.parametrize(
    "addresses, marked",
    [
        (("bob@x.test", "me+later-2w@example.test"), True),
        (("me+bump@example.test",), True),
        (("me+2w@example.test",), False),
        (("someone+later-2w@example.test",), False),
        (("bob@x.test",), False),
    ],
)
def test_the_mailboxes_report_later_and_bump_drafts_only(addresses, marked):
    summary = MessageSummary(ref="Drafts/1/1", message_id="<d@x>", bcc=addresses)
    assert is_marked_draft(summary, {"me@example.test"}) is marked


DRAFT = (
    b"From: Me <me@example.test>\r\n"
    b"To: Chiara <chiara@else.test>, me+later-2w@example.test\r\n"
    b"Cc: Dan <dan@else.test>\r\n"
    b"Bcc: ME+later-2w@example.test, eve@else.test\r\n"
    b"Subject: Following up\r\n"
    b"Date: Wed, 25 Nov 2026 09:00:00 +0000\r\n"
    b"Message-ID: <draft-1@example.test>\r\n"
    b"X-Mozilla-Draft-Info: internal/draft; vcard=0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hey Chiara, following up on our conversation two weeks ago. How's it going?\r\n"
)
TAG = "me+later-2w@example.test"


def test_recipients_leave_the_tag_out():
    assert recipients_of(DRAFT, TAG) == ["chiara@else.test", "dan@else.test", "eve@else.test"]


@pytest.mark.parametrize("keep_bcc", [True, False])
def test_the_outgoing_message_is_the_draft_without_the_tag(keep_bcc):
    mid = later_message_id("abc123", "me@example.test")
    raw, rcpts = outgoing(DRAFT, tag_address=TAG, message_id=mid, now=NOW, keep_bcc=keep_bcc)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert rcpts == ("chiara@else.test", "dan@else.test", "eve@else.test")
    assert b"later-2w" not in raw.lower()
    assert msg["To"] == "Chiara <chiara@else.test>" and msg["Cc"] == "Dan <dan@else.test>"
    assert (msg["Bcc"] == "eve@else.test") if keep_bcc else (msg["Bcc"] is None)
    assert msg["Message-ID"] == mid and msg.get_all("Message-ID") == [mid]
    assert msg["Date"] == "Wed, 25 Nov 2026 10:00:00 +0000"
    assert msg["X-Mozilla-Draft-Info"] is None
    assert "How's it going?" in msg.get_content()


def test_a_draft_only_to_the_tag_is_refused():
    only = DRAFT.replace(b"Chiara <chiara@else.test>, ", b"").replace(
        b"Cc: Dan <dan@else.test>\r\n", b""
    )
    only = only.replace(b", eve@else.test", b"")
    with pytest.raises(ValidationError) as e:
        outgoing(only, tag_address=TAG, message_id="<x@y>", now=NOW, keep_bcc=True)
    assert "no recipient" in e.value.message


def test_the_message_id_is_deterministic_and_no_bump_id():
    first = later_message_id("tok", "me@example.test")
    assert first == later_message_id("tok", "me@example.test")
    assert first != later_message_id("tok2", "me@example.test")
    assert first.startswith("<rw-later.") and first.endswith("@example.test>")


class Inbox:
    """messages_from as a mailbox answers it: newest first, per address."""

    def __init__(self, *messages: MessageSummary):
        self.messages = messages
        self.asked: list[str] = []

    def messages_from(self, address, limit):
        self.asked.append(address)
        return [m for m in self.messages if m.from_addr == address][:limit]


def mail(sender: str, when: str, **kw) -> MessageSummary:
    return MessageSummary(ref=when, message_id=f"<{when}@x>", from_addr=sender, date=Z(when), **kw)


SINCE = Z("2026-11-25T10:00:00")
OWN = frozenset({"me@example.test"})


@pytest.mark.parametrize(
    "messages, found",
    [
        ((), None),
        ((mail("chiara@else.test", "2026-11-25T10:00:00"),), None),  # at the moment: before
        ((mail("chiara@else.test", "2026-11-25T10:00:01"),), "2026-11-25T10:00:01"),
        ((mail("chiara@else.test", "2026-11-20T09:00:00"),), None),  # long before
        ((mail("dan@else.test", "2026-11-26T09:00:00"),), "2026-11-26T09:00:00"),  # any recipient
        ((mail("chiara@else.test", "2026-11-26T09:00:00", in_sent=True),), None),
        ((mail("chiara@else.test", "2026-11-26T09:00:00", is_draft=True),), None),
        (
            (
                mail("chiara@else.test", "2026-11-26T09:00:00"),
                mail("dan@else.test", "2026-11-27T09:00:00"),
            ),
            "2026-11-27T09:00:00",  # the newest is named
        ),
    ],
)
def test_written_since_counts_their_mail_after_the_scheduling(messages, found):
    inbox = Inbox(*messages)
    got = written_since(
        inbox, lambda fn: fn(), ["chiara@else.test", "dan@else.test", "me@example.test"], SINCE, OWN
    )
    assert (got.ref if got else None) == found
    assert inbox.asked == ["chiara@else.test", "dan@else.test"]  # never the user's own address
