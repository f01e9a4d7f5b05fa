"""Table-driven tests of watcher.ooo.return_date: the first day back, in several languages."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from watcher.headers import body_text
from watcher.ooo import own_text, return_date

MON = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 2 March 2026
FRI_DEC = datetime(2026, 12, 18, 9, 0, tzinfo=UTC)

CASES = [
    # (id, text, sent, expected first day back or None)
    ("en-back-on-weekday-date", "I'm back on Monday, 9 March.", MON, date(2026, 3, 9)),
    (
        "en-until-means-back-on",
        "Out of the office until Friday, March 13.",
        MON,
        date(2026, 3, 13),
    ),
    ("en-through", "On holiday through March 15.", MON, date(2026, 3, 16)),
    ("en-returning-ordinal", "Returning on Monday 16th March.", MON, date(2026, 3, 16)),
    ("en-weekday-only", "I will be back on Thursday.", MON, date(2026, 3, 5)),
    ("en-tomorrow", "Out sick today, back tomorrow.", MON, date(2026, 3, 3)),
    ("en-us-numeric", "I'm away until 3/16.", MON, date(2026, 3, 16)),
    ("en-ambiguous-numeric-nearest", "Out until 06/03/2026.", MON, date(2026, 3, 6)),
    ("en-iso", "Back on 2026-03-18.", MON, date(2026, 3, 18)),
    ("en-same-weekday-is-next-week", "Out until Monday.", MON, date(2026, 3, 9)),
    (
        "en-explicit-return-outranks-until",
        "No signal until Sunday 15 March. Back at my desk on Monday 16 March.",
        MON,
        date(2026, 3, 16),
    ),
    ("nl-tot-means-back-on", "Ik ben er niet tot maandag 9 maart.", MON, date(2026, 3, 9)),
    ("en-year-rollover", "Closed for the holidays, back on January 5.", FRI_DEC, date(2027, 1, 5)),
    (
        "de-bis-einschliesslich",
        "Ich bin bis einschließlich 13. März nicht im Büro.",
        MON,
        date(2026, 3, 14),
    ),
    ("de-ab-wieder", "Ab dem 16.03.2026 bin ich wieder erreichbar.", MON, date(2026, 3, 16)),
    ("fr-jusqu-au", "Je suis absente jusqu'au lundi 16 mars inclus.", MON, date(2026, 3, 17)),
    ("fr-de-retour-le", "Je serai de retour le 12/03/2026.", MON, date(2026, 3, 12)),
    ("es-hasta", "Estaré fuera hasta el 16 de marzo de 2026.", MON, date(2026, 3, 17)),
    ("es-de-vuelta", "Estaré de vuelta el lunes 9 de marzo.", MON, date(2026, 3, 9)),
    ("nl-tot-en-met", "Ik ben afwezig tot en met vrijdag 13 maart.", MON, date(2026, 3, 14)),
    ("nl-vanaf-weer", "Vanaf maandag 9 maart ben ik weer op kantoor.", MON, date(2026, 3, 9)),
    ("pt-ate", "Estarei ausente até 16 de março.", MON, date(2026, 3, 17)),
    ("pt-retorno", "Retorno no dia 23/03/2026.", MON, date(2026, 3, 23)),
    ("ja-made", "３月１６日まで不在にしております。", MON, date(2026, 3, 17)),
    ("ja-yori-shussha", "3月17日（火）より出社いたします。", MON, date(2026, 3, 17)),  # noqa: RUF001
    ("ja-kara-start-of-absence", "3月2日から不在です。", MON, None),
    ("no-date", "I am away and checking mail only occasionally.", MON, None),
    ("further-notice", "I am away until further notice.", MON, None),
    ("past-date", "I was out until 27 February.", MON, None),
    ("too-far-ahead", "On parental leave, back on 1 September 2026.", MON, None),
    ("empty", "", MON, None),
    (
        "quoted-original-ignored",
        "Thanks!\n\nOn Mon, Mar 2, 2026 at 9:14 AM Alice wrote:\n> I'm out until March 20",
        MON,
        None,
    ),
    (
        "outlook-quote-ignored",
        "Noted.\n\n-----Original Message-----\nFrom: Alice\nI'm back on 20 March",
        MON,
        None,
    ),
]


@pytest.mark.parametrize(
    ("text", "sent", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_return_date(text, sent, expected):
    found = return_date(text, sent)
    assert (found.day if found else None) == expected, found
    if found:
        assert found.phrase and str(found).startswith(expected.isoformat())


def test_subject_states_the_date():
    found = return_date("Thanks for your message.", MON, subject="OOO: back March 23")
    assert found is not None and found.day == date(2026, 3, 23)


def test_no_sent_date_still_works():
    found = return_date("Back on 2099-01-05.", None)
    assert found is None or found.day == date(2099, 1, 5)


def test_own_text_cuts_quotes():
    assert own_text("Yes.\n> quoted\nmore") == "Yes."


RAW_DSN = (
    b"From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nThe mail system\r\n"
    b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
    b"Final-Recipient: rfc822; bob@partner.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
    b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
    b"Subject: secret original\r\n\r\nbody text\r\n--b--\r\n"
)


def test_body_text_puts_delivery_status_first_and_skips_the_original():
    text = body_text(RAW_DSN)
    assert text.startswith("Final-Recipient: rfc822; bob@partner.example\nAction: failed")
    assert "Diagnostic-Code: smtp; 550 5.1.1 User unknown" in text
    assert "The mail system" in text
    assert "body text" not in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            b"Content-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\nZur=FCck am 9. M=E4rz",
            "Zurück am 9. März",
            id="qp-latin1",
        ),
        pytest.param(
            b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Back&nbsp;on <b>Monday</b></p>",
            "Back on Monday",
            id="html-only",
        ),
        pytest.param(
            b"Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n"
            + "３月１６日まで不在".encode("iso-2022-jp"),
            "３月１６日まで不在",
            id="iso-2022-jp",
        ),
        pytest.param(
            b"Content-Type: text/plain; charset=x-unknown\r\n\r\nhi", "hi", id="bad-charset"
        ),
        pytest.param(b"Content-Type: image/png\r\n\r\n\x89PNG", "", id="no-text"),
    ],
)
def test_body_text_decodes(raw, expected):
    assert body_text(raw) == expected


def test_body_text_caps():
    assert len(body_text(b"Content-Type: text/plain\r\n\r\n" + b"x" * 10000, limit=100)) == 100
