"""Pure header parsing: summaries, names, and the original's id inside bounce reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watcher.headers import date_offset_minutes, may_be_report, reported_message_ids, summarize

HEADERS = (
    b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <Juergen@Example.DE>\r\n"
    b"To: Bob Smith <bob@example.test>, carol@example.test\r\n"
    b'Cc: "Doe, Jane" <jane@example.test>\r\n'
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    b"Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
    b"Message-ID: <a@x>\r\n"
    b"In-Reply-To: <b@x>\r\n"
    b"References: <c@x>\r\n <b@x>\r\n"
    b"Auto-Submitted: auto-replied\r\n\r\n"
)


def test_summary_fields():
    s = summarize("INBOX/1/7", HEADERS)
    assert s.message_id == "<a@x>"
    assert s.from_addr == "juergen@example.de" and s.from_name == "Jürgen Müller"
    assert s.to == ("bob@example.test", "carol@example.test")
    assert s.cc == ("jane@example.test",)
    assert s.names == {
        "juergen@example.de": "Jürgen Müller",
        "bob@example.test": "Bob Smith",
        "jane@example.test": "Doe, Jane",
    }
    assert s.subject == "Grüße"
    assert s.date == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert s.date_offset_minutes == 60  # where the sender's clock stood: how zones are learnt
    assert s.in_reply_to == ("<b@x>",) and s.references == ("<c@x>", "<b@x>")
    assert s.linked_ids == {"<a@x>", "<b@x>", "<c@x>"}
    assert s.headers == {"auto-submitted": "auto-replied"}


POSTFIX_DSN = b"""\
From: MAILER-DAEMON@mx.example.test (Mail Delivery System)
To: alice@example.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <report-1@mx.example.test>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

The mail system could not deliver your message.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test

Final-Recipient: rfc822; bob@example.test
Action: failed
Status: 5.1.1

--B
Content-Type: message/rfc822

From: alice@example.test
To: bob@example.test
Subject: Hello
Message-ID: <original-1@example.test>

Hello Bob
--B--
"""

HEADERS_ONLY_DSN = POSTFIX_DSN.replace(b"message/rfc822", b"text/rfc822-headers")

QMAIL = b"""\
From: MAILER-DAEMON@qmail.example.test
To: alice@example.test
Subject: failure notice
Message-ID: <q-1@qmail.example.test>

Hi. This is the qmail-send program at qmail.example.test.
I'm afraid I wasn't able to deliver your message to the following addresses.

<bob@example.test>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Return-Path: <alice@example.test>
From: alice@example.test
Message-ID: <original-3@example.test>
Subject: Hello
"""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(POSTFIX_DSN, ("<original-1@example.test>",), id="rfc3464-message"),
        pytest.param(HEADERS_ONLY_DSN, ("<original-1@example.test>",), id="rfc3464-headers"),
        pytest.param(QMAIL, ("<original-3@example.test>",), id="qmail-inline"),
        pytest.param(HEADERS, (), id="not-a-report"),
    ],
)
def test_reported_message_ids(raw, expected):
    assert reported_message_ids(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(POSTFIX_DSN, True, id="dsn"),
        pytest.param(QMAIL, True, id="mailer-daemon"),
        pytest.param(HEADERS, False, id="person"),
        pytest.param(b"From: postmaster@x.test\r\nSubject: hi\r\n\r\n", True, id="postmaster"),
        pytest.param(
            b"From: a@x.test\r\nX-Failed-Recipients: b@y.test\r\n\r\n", True, id="x-failed"
        ),
    ],
)
def test_may_be_report(raw, expected):
    head = raw.split(b"\n\n")[0] if b"\n\n" in raw else raw
    assert may_be_report(summarize("r", head)) is expected


@pytest.mark.parametrize(
    ("value", "minutes"),
    [
        pytest.param("Tue, 24 Nov 2026 10:00:00 +0100", 60, id="berlin-winter"),
        pytest.param("Tue, 24 Nov 2026 04:00:00 -0500", -300, id="new-york"),
        pytest.param("Tue, 24 Nov 2026 14:30:00 +0530", 330, id="kolkata-half-hour"),
        pytest.param("Tue, 24 Nov 2026 09:00:00 +0000", 0, id="utc"),
        pytest.param("Tue, 24 Nov 2026 09:00:00 -0000", None, id="minus-zero-means-unknown"),
        pytest.param("Tue, 24 Nov 2026 09:00:00 GMT", 0, id="gmt-name"),
        pytest.param("not a date", None, id="unreadable"),
        pytest.param("", None, id="missing"),
        pytest.param(None, None, id="none"),
    ],
)
def test_date_offset_minutes(value, minutes):
    assert date_offset_minutes(value) == minutes
