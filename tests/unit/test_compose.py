"""Table-driven tests of watcher.compose."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone
from email.utils import getaddresses, parsedate_to_datetime

import pytest

from watcher.compose import (
    MAX_REFERENCES,
    bump_message_id,
    compose_bump,
    first_name_of,
    render_text,
    reply_subject,
)
from watcher.errors import ValidationError
from watcher.mailbox import Bump, MessageSummary

NOW = datetime(2025, 3, 5, 9, 30, tzinfo=UTC)
ORIGINAL = MessageSummary(
    ref="Sent/1/7",
    message_id="<CAF=orig-1@mail.example.com>",
    subject="Proposal for Q2",
    from_addr="me@example.com",
    to=("bob@client.example",),
    date=datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
    thread_ref="18f0a1",
    in_sent=True,
)


def summary(**kw) -> MessageSummary:
    base = {"ref": "x", "message_id": "<m@x>"}
    base.update(kw)
    return MessageSummary(**base)


def bump(**kw) -> Bump:
    args = {
        "account_email": "me@example.com",
        "account_name": "Me Myself",
        "original": ORIGINAL,
        "latest": ORIGINAL,
        "to": ("bob@client.example",),
        "cc": (),
        "token": "a1b2c3d4e5f6a7b8c9d0",
        "stage": 1,
        "text": "Hi Bob,\n\njust checking in on this.\n",
        "now": NOW,
    }
    args.update(kw)
    return compose_bump(**args)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def body_of(raw: bytes) -> str:
    """The decoded text body with line ends normalised (8bit keeps the wire's CRLF)."""
    return parse(raw).get_content().replace("\r\n", "\n")


# --- reply_subject ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        pytest.param("Proposal", "Re: Proposal", id="plain"),
        pytest.param("Re: Proposal", "Re: Proposal", id="re"),
        pytest.param("RE: Proposal", "Re: Proposal", id="RE-outlook"),
        pytest.param("re:Proposal", "Re: Proposal", id="re-no-space"),
        pytest.param("Re: Re: RE: Proposal", "Re: Proposal", id="re-chain"),
        pytest.param("Re[2]: Proposal", "Re: Proposal", id="re-counter-brackets"),
        pytest.param("Re(3): Proposal", "Re: Proposal", id="re-counter-parens"),
        pytest.param("Re^2: Proposal", "Re: Proposal", id="re-counter-caret"),
        pytest.param("AW: Angebot", "Re: Angebot", id="de-AW"),
        pytest.param("Aw: AW: Re: Angebot", "Re: Angebot", id="de-mixed-chain"),
        pytest.param("SV: Förslag", "Re: Förslag", id="sv"),
        pytest.param("Antw: Voorstel", "Re: Voorstel", id="nl"),
        pytest.param("R: Proposta", "Re: Proposta", id="it-R"),
        pytest.param("RIF: Proposta", "Re: Proposta", id="it-RIF"),
        pytest.param("Re : Proposition", "Re: Proposition", id="fr-space-before-colon"),
        pytest.param("VS: Ehdotus", "Re: Ehdotus", id="fi"),
        pytest.param("Odp: Oferta", "Re: Oferta", id="pl"),
        pytest.param("回复\uff1a提案", "Re: 提案", id="zh-fullwidth-colon"),
        pytest.param("Отв: Предложение", "Re: Предложение", id="ru"),
        pytest.param("Fwd: Proposal", "Re: Fwd: Proposal", id="forward-kept"),
        pytest.param("Re: Fwd: Re: Proposal", "Re: Fwd: Re: Proposal", id="only-leading-collapsed"),
        pytest.param("Report: Q3", "Re: Report: Q3", id="word-starting-with-re"),
        pytest.param("Reply needed", "Re: Reply needed", id="no-colon"),
        pytest.param("  Re:   Proposal  ", "Re: Proposal", id="whitespace"),
        pytest.param("Re: Long\r\n subject", "Re: Long subject", id="folded-newline"),
        pytest.param("", "Re: ", id="empty"),
        pytest.param("Re:", "Re: ", id="only-prefix"),
    ],
)
def test_reply_subject(original: str, expected: str):
    result = reply_subject(original)
    assert result == expected
    assert not result.lower().startswith("re: re:")


# --- bump_message_id --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "stage", "address", "expected"),
    [
        pytest.param("abc123", 1, "me@example.com", "<rw.abc123.1@example.com>", id="basic"),
        pytest.param(
            "abc123", 3, "Me@Mail.Example.COM", "<rw.abc123.3@mail.example.com>", id="domain-lower"
        ),
        pytest.param(
            "a1b2c3d4e5f6a7b8c9d0",
            0,
            "x@y.z",
            "<rw.a1b2c3d4e5f6a7b8c9d0.0@y.z>",
            id="hex-token-stage-0",
        ),
        pytest.param(
            "tok", 2, "weird@local@example.org", "<rw.tok.2@example.org>", id="last-at-sign"
        ),
    ],
)
def test_bump_message_id(token: str, stage: int, address: str, expected: str):
    assert bump_message_id(token, stage, address) == expected
    assert bump_message_id(token, stage, address) == bump_message_id(token, stage, address)


@pytest.mark.parametrize(
    ("token", "stage", "address"),
    [
        pytest.param("", 1, "me@example.com", id="empty-token"),
        pytest.param("a b", 1, "me@example.com", id="space-in-token"),
        pytest.param("a>b", 1, "me@example.com", id="bracket-in-token"),
        pytest.param("abc", -1, "me@example.com", id="negative-stage"),
        pytest.param("abc", True, "me@example.com", id="bool-stage"),
        pytest.param("abc", 1, "no-at-sign", id="no-at"),
        pytest.param("abc", 1, "me@", id="no-domain"),
        pytest.param("abc", 1, "me@exa mple.com", id="space-in-domain"),
    ],
)
def test_bump_message_id_rejects(token, stage, address):
    with pytest.raises(ValidationError):
        bump_message_id(token, stage, address)


# --- first_name_of ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("display", "address", "expected"),
    [
        pytest.param("Bob Smith", "bob@x.example", "Bob", id="first-last"),
        pytest.param("Smith, Bob", "bob@x.example", "Bob", id="last-comma-first"),
        pytest.param('"Smith, Bob"', "bob@x.example", "Bob", id="quoted"),
        pytest.param("", "bob.smith@x.example", "Bob", id="from-dotted-address"),
        pytest.param("", "bob_smith@x.example", "Bob", id="from-underscored-address"),
        pytest.param("", "bob.smith+crm@x.example", "Bob", id="plus-tag"),
        pytest.param("", "bob@x.example", "", id="single-local-part"),
        pytest.param("", "jsmith@x.example", "", id="initial-and-name"),
        pytest.param("", "j.smith@x.example", "", id="single-initial"),
        pytest.param("", "sales.team@x.example", "", id="role-address"),
        pytest.param("", "", "", id="nothing"),
        pytest.param("Bob", "", "Bob", id="single-name"),
        pytest.param("Dr. Jane Doe", "jd@x.example", "Jane", id="honorific"),
        pytest.param("BOB SMITH", "b@x.example", "Bob", id="shouting"),
        pytest.param("José García", "jg@x.example", "José", id="accented"),
        pytest.param("Jörg Müller", "", "Jörg", id="umlaut"),
        pytest.param("McKenzie Lee", "", "McKenzie", id="mixed-case-kept"),
        pytest.param("bob.smith@x.example", "bob.smith@x.example", "Bob", id="display-is-address"),
        pytest.param("  ", "anna.berg@x.example", "Anna", id="blank-display"),
    ],
)
def test_first_name_of(display: str, address: str, expected: str):
    assert first_name_of(display, address) == expected


# --- render_text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "kwargs", "expected"),
    [
        pytest.param(
            "Hi {first_name}, any news on {subject}?",
            {"first_name": "Bob", "subject": "Proposal"},
            "Hi Bob, any news on Proposal?",
            id="basic",
        ),
        pytest.param(
            "Hi {first_name},",
            {"first_name": "", "subject": "x"},
            "Hi there,",
            id="first-name-fallback",
        ),
        pytest.param(
            "Hi {first_name},",
            {"first_name": "  ", "subject": "x"},
            "Hi there,",
            id="blank-first-name",
        ),
        pytest.param(
            "Dear {name}, — {sender_name}",
            {
                "first_name": "Bob",
                "subject": "x",
                "recipient_name": "Bob Smith",
                "sender_name": "Jürgen",
            },
            "Dear Bob Smith, — Jürgen",
            id="name-and-sender",
        ),
        pytest.param(
            "Dear {name},",
            {"first_name": "Bob", "subject": "x"},
            "Dear Bob,",
            id="name-falls-back-to-first-name",
        ),
        pytest.param(
            "Dear {name},",
            {"first_name": "", "subject": "x"},
            "Dear there,",
            id="name-falls-back-to-there",
        ),
        pytest.param(
            "{{literal}} {first_name}",
            {"first_name": "Bob", "subject": "x"},
            "{literal} Bob",
            id="escaped-braces",
        ),
        pytest.param(
            "No placeholders.",
            {"first_name": "Bob", "subject": "x"},
            "No placeholders.",
            id="plain",
        ),
        pytest.param(
            "Re {subject}",
            {"first_name": "", "subject": "Angebot für Grüße"},
            "Re Angebot für Grüße",
            id="non-ascii",
        ),
        pytest.param(
            "{subject}",
            {"first_name": "", "subject": "{first_name}"},
            "{first_name}",
            id="values-not-reexpanded",
        ),
        pytest.param(
            "{first_name}{first_name}", {"first_name": "Bo", "subject": ""}, "BoBo", id="repeated"
        ),
    ],
)
def test_render_text(template: str, kwargs: dict, expected: str):
    assert render_text(template, **kwargs) == expected


@pytest.mark.parametrize(
    ("template", "match"),
    [
        pytest.param("Hi {firstname}", r"unknown placeholder \{firstname\}", id="typo"),
        pytest.param("{first_name.__class__}", "unknown placeholder", id="attribute-access"),
        pytest.param("{subject[0]}", "unknown placeholder", id="index-access"),
        pytest.param("{}", r"unknown placeholder \{\}", id="positional-empty"),
        pytest.param("{0}", "unknown placeholder", id="positional-number"),
        pytest.param("{first_name!r}", "no format or conversion", id="conversion"),
        pytest.param("{first_name:>40}", "no format or conversion", id="format-spec"),
        pytest.param("Hi {first_name", "unbalanced brace", id="unclosed"),
        pytest.param("Hi } there", "unbalanced brace", id="stray-close"),
    ],
)
def test_render_text_errors(template: str, match: str):
    with pytest.raises(ValidationError, match=match) as info:
        render_text(template, first_name="Bob", subject="x")
    assert "{first_name}" in str(info.value) or "format" in str(info.value)


# --- compose_bump: References -----------------------------------------------------------------

IDS = tuple(f"<id{i}@x.example>" for i in range(30))


@pytest.mark.parametrize(
    ("latest", "in_reply_to", "references"),
    [
        pytest.param(ORIGINAL, ORIGINAL.message_id, (ORIGINAL.message_id,), id="first-bump"),
        pytest.param(
            summary(message_id="<r2@x>", references=("<a@x>", "<b@x>")),
            "<r2@x>",
            ("<a@x>", "<b@x>", "<r2@x>"),
            id="append-latest",
        ),
        pytest.param(
            summary(message_id="<r2@x>", references=("<a@x>", "<b@x>", "<a@x>", "<r2@x>")),
            "<r2@x>",
            ("<a@x>", "<b@x>", "<r2@x>"),
            id="deduplicated-order-kept",
        ),
        pytest.param(
            summary(message_id="<r2@x>", in_reply_to=("<a@x>",)),
            "<r2@x>",
            ("<a@x>", "<r2@x>"),
            id="rfc5322-in-reply-to-fallback",
        ),
        pytest.param(
            summary(message_id="<r2@x>", references=IDS[:19]),
            "<r2@x>",
            (*IDS[:19], "<r2@x>"),
            id="exactly-20-kept",
        ),
        pytest.param(
            summary(message_id="<r2@x>", references=IDS),
            "<r2@x>",
            (IDS[0], *IDS[-18:], "<r2@x>"),
            id="truncated-first-and-last-19",
        ),
        pytest.param(
            summary(message_id="", references=("<a@x>",)),
            ORIGINAL.message_id,
            (ORIGINAL.message_id,),
            id="latest-without-id-uses-original",
        ),
        pytest.param(
            summary(message_id="<r2@x>", references=("<a@x>", "<bad id@x>", "")),
            "<r2@x>",
            ("<a@x>", "<r2@x>"),
            id="unusable-ids-dropped",
        ),
    ],
)
def test_references(latest: MessageSummary, in_reply_to: str, references: tuple[str, ...]):
    parsed = parse(bump(latest=latest).raw)
    assert parsed["In-Reply-To"] == in_reply_to
    refs = tuple(str(parsed["References"]).split())
    assert refs == references
    assert len(refs) <= MAX_REFERENCES


def test_long_ids_are_folded_not_encoded():
    long_ids = tuple(f"<CAKx{i}{'a' * 90}@mail.gmail.com>" for i in range(5))
    raw = bump(latest=summary(message_id=long_ids[-1], references=long_ids[:-1])).raw
    assert b"=?" not in raw.split(b"\r\n\r\n", 1)[0]
    parsed = parse(raw)
    assert tuple(str(parsed["References"]).split()) == long_ids
    assert parsed["In-Reply-To"] == long_ids[-1]


# --- compose_bump: headers and body -----------------------------------------------------------


def test_headers_parse_back():
    b = bump(
        to=("Bob Smith <Bob@Client.example>", "carol@client.example"), cc=("dave@partner.example",)
    )
    parsed = parse(b.raw)
    assert parsed["Message-ID"] == "<rw.a1b2c3d4e5f6a7b8c9d0.1@example.com>" == b.message_id
    assert parsed["Subject"] == "Re: Proposal for Q2"
    assert parsed["From"].addresses[0].display_name == "Me Myself"
    assert parsed["From"].addresses[0].addr_spec == "me@example.com"
    assert [a for _, a in getaddresses([str(parsed["To"])])] == [
        "Bob@Client.example",
        "carol@client.example",
    ]
    assert str(parsed["Cc"]) == "dave@partner.example"
    assert parsedate_to_datetime(str(parsed["Date"])) == NOW
    assert parsed["MIME-Version"] == "1.0"
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert body_of(b.raw) == "Hi Bob,\n\njust checking in on this.\n"
    assert b.sender == "me@example.com"
    assert b.recipients == ("bob@client.example", "carol@client.example", "dave@partner.example")
    assert b.thread_ref == "18f0a1"


@pytest.mark.parametrize(
    "header",
    [
        "X-Mailer",
        "Auto-Submitted",
        "X-Auto-Response-Suppress",
        "Precedence",
        "User-Agent",
        "X-Replywatch",
    ],
)
def test_no_automation_headers(header: str):
    assert header not in parse(bump().raw)


def test_exactly_one_message_id_and_crlf():
    raw = bump().raw
    assert raw.lower().count(b"\nmessage-id:") + raw.lower().startswith(b"message-id:") == 1
    assert b"\n" in raw
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert raw.endswith(b"\r\n")


def test_cc_omitted_when_empty():
    parsed = parse(bump(cc=()).raw)
    assert "Cc" not in parsed


def test_deterministic():
    assert bump().raw == bump().raw
    assert bump(stage=2).message_id == "<rw.a1b2c3d4e5f6a7b8c9d0.2@example.com>"


@pytest.mark.parametrize(
    ("to", "cc", "recipients"),
    [
        pytest.param(("a@x",), (), ("a@x",), id="one"),
        pytest.param(("A@X", "b@x"), ("a@x", "C@y"), ("a@x", "b@x", "c@y"), id="dedup-lower"),
        pytest.param(("Ann <ann@x>",), ("Bo Li <BO@y>",), ("ann@x", "bo@y"), id="named"),
        pytest.param((), ("cc-only@x",), ("cc-only@x",), id="cc-only"),
    ],
)
def test_recipients(to, cc, recipients):
    assert bump(to=to, cc=cc).recipients == recipients


def test_no_recipients_rejected():
    with pytest.raises(ValidationError, match="recipient"):
        bump(to=(), cc=())


def test_no_message_id_anywhere_rejected():
    orphan = summary(message_id="")
    with pytest.raises(ValidationError, match="Message-ID"):
        bump(original=orphan, latest=orphan)


@pytest.mark.parametrize(
    ("latest_ref", "original_ref", "expected"),
    [
        pytest.param("t-latest", "t-orig", "t-latest", id="latest-wins"),
        pytest.param(None, "t-orig", "t-orig", id="original-fallback"),
        pytest.param(None, None, None, id="none"),
    ],
)
def test_thread_ref(latest_ref, original_ref, expected):
    original = summary(message_id="<o@x>", thread_ref=original_ref, subject="S")
    latest = summary(message_id="<l@x>", thread_ref=latest_ref)
    assert bump(original=original, latest=latest).thread_ref == expected


def test_subject_from_original_not_latest():
    latest = summary(message_id="<l@x>", subject="AW: something else entirely")
    original = summary(message_id="<o@x>", subject="AW: Angebot")
    assert parse(bump(original=original, latest=latest).raw)["Subject"] == "Re: Angebot"


def test_non_ascii_name_subject_and_text():
    original = summary(message_id="<o@x>", subject="Angebot für Grüße — 提案")
    b = bump(
        account_name="Jürgen Groß",
        original=original,
        latest=original,
        to=("Zoë Ångström <zoe@client.example>",),
        text="Hallo Zoë,\n\nkurze Erinnerung \u2013 schöne Grüße\n",
    )
    head = b.raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()  # headers RFC 2047-encoded, not raw UTF-8
    parsed = parse(b.raw)
    assert parsed["Subject"] == "Re: Angebot für Grüße — 提案"
    assert parsed["From"].addresses[0].display_name == "Jürgen Groß"
    assert parsed["To"].addresses[0].display_name == "Zoë Ångström"
    assert body_of(b.raw) == "Hallo Zoë,\n\nkurze Erinnerung \u2013 schöne Grüße\n"
    assert parsed["Content-Transfer-Encoding"] in {"8bit", "quoted-printable", "base64"}


def test_long_body_lines_survive():
    text = "word " * 400 + "\n"
    assert body_of(bump(text=text).raw) == text
    assert all(len(line) <= 998 for line in bump(text=text).raw.split(b"\r\n"))


@pytest.mark.parametrize(
    ("now", "expected_header_suffix"),
    [
        pytest.param(NOW, "+0000", id="utc"),
        pytest.param(
            datetime(2025, 3, 5, 10, 30, tzinfo=timezone(timedelta(hours=1))),
            "+0100",
            id="offset-kept",
        ),
        pytest.param(datetime(2025, 3, 5, 9, 30), "+0000", id="naive-taken-as-utc"),
    ],
)
def test_date(now: datetime, expected_header_suffix: str):
    parsed = parse(bump(now=now).raw)
    assert str(parsed["Date"]).endswith(expected_header_suffix)
    assert parsedate_to_datetime(str(parsed["Date"])) == NOW


def test_quote_appended():
    latest = summary(
        message_id="<l@x>",
        from_name="Bob Smith",
        from_addr="bob@client.example",
        date=datetime(2025, 3, 3, 14, 5, tzinfo=UTC),
    )
    assert body_of(bump(latest=latest, text="Any news?", quote="Will check.\n\nBob\n").raw) == (
        "Any news?\n\n"
        "On Mon, 3 Mar 2025 at 14:05 UTC, Bob Smith <bob@client.example> wrote:\n"
        "> Will check.\n"
        ">\n"
        "> Bob\n"
    )


def test_quote_without_date_or_name():
    latest = summary(message_id="<l@x>", from_addr="bob@client.example")
    content = body_of(bump(latest=latest, text="Ping", quote="hi").raw)
    assert content == "Ping\n\nbob@client.example wrote:\n> hi\n"


def test_header_injection_neutralised():
    original = summary(message_id="<o@x>", subject="Hi\r\nBcc: victim@evil.example")
    parsed = parse(bump(original=original, latest=original, account_name="Me\r\nX-Evil: 1").raw)
    assert "Bcc" not in parsed
    assert "X-Evil" not in parsed
    assert parsed["Subject"] == "Re: Hi Bcc: victim@evil.example"
