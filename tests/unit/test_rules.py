"""Table-driven tests of watcher.rules: which sent messages a rule puts a follow-up on, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watcher import rules
from watcher.errors import ValidationError
from watcher.followups import MAX_STAGES
from watcher.mailbox import MessageSummary
from watcher.rules import (
    RuleSpec,
    bulk_reason,
    check_headers,
    check_text,
    find_question,
    is_internal,
    judge,
    looks_like_list,
    own_words,
    validate_fields,
)

OWN = frozenset({"ann@acme.example", "ann.smith@acme-corp.example"})
CREATED = datetime(2026, 11, 2, 9, 0, 0, 400000, tzinfo=UTC)
AFTER = CREATED + timedelta(hours=1)


def spec(**kw) -> RuleSpec:
    return RuleSpec(**{"id": 3, "name": "Cold outreach", "created_at": CREATED, **kw})


def sent(
    to=("bob@client.example",),
    cc=(),
    subject="Proposal",
    date=AFTER,
    **kw,
) -> MessageSummary:
    return MessageSummary(
        **{
            "ref": "Sent/1/7",
            "message_id": "<m1@acme.example>",
            "subject": subject,
            "from_addr": "ann@acme.example",
            "to": tuple(to),
            "cc": tuple(cc),
            "date": date,
            "in_sent": True,
            **kw,
        }
    )


# -- the headers ---------------------------------------------------------------------------------

HEADER_CASES = [
    # (id, rule fields, message fields, matches, needs_text, words in the reason)
    (
        "external question rule passes to text",
        {"question_only": True},
        {},
        False,
        True,
        "external recipient bob@client.example",
    ),
    ("external", {}, {}, True, False, "external recipient bob@client.example"),
    ("alias sends", {}, {"from_addr": "ann.smith@acme-corp.example"}, True, False, "external"),
    ("draft", {}, {"is_draft": True}, False, False, "draft"),
    ("inbox copy", {}, {"in_sent": False}, False, False, "not sent by you"),
    ("someone else's", {}, {"from_addr": "eve@acme.example"}, False, False, "not sent by you"),
    ("no message-id", {}, {"message_id": ""}, False, False, "no Message-ID"),
    (
        "our own bump",
        {},
        {"message_id": "<rw.abc123.1@acme.example>"},
        False,
        False,
        "Replywatch sent",
    ),
    (
        "our own help notice",
        {},
        {"message_id": "<rw-help.0a1b2c@acme.example>", "to": ("bob@client.example",)},
        False,
        False,
        "help notice Replywatch sent",
    ),
    (
        "an rw id of another domain is no bump",
        {},
        {"message_id": "<rw.abc.1@other.example>"},
        True,
        False,
        "external",
    ),
    (
        "sent before the rule",
        {},
        {"date": CREATED - timedelta(minutes=1)},
        False,
        False,
        "before the rule",
    ),
    (
        "sent in the rule's first second",
        {},
        {"date": CREATED.replace(microsecond=0)},
        True,
        False,
        "external",
    ),
    ("no date: cannot prove it is new", {}, {"date": None}, False, False, "before the rule"),
    ("to myself", {}, {"to": ("ann@acme.example",)}, False, False, "no recipient other"),
    ("internal colleague", {}, {"to": ("carl@acme.example",)}, False, False, "internal"),
    ("internal subdomain", {}, {"to": ("dee@eu.acme.example",)}, False, False, "internal"),
    ("alias domain internal", {}, {"to": ("x@acme-corp.example",)}, False, False, "internal"),
    (
        "colleague + client",
        {},
        {"to": ("carl@acme.example",), "cc": ("bob@client.example",)},
        True,
        False,
        "bob@client.example",
    ),
    (
        "internal ok when not external_only",
        {"external_only": False},
        {"to": ("carl@acme.example",)},
        True,
        False,
        "recipient carl@acme.example",
    ),
    ("mailing list", {}, {"to": ("dev@lists.client.example",)}, False, False, "list"),
    ("list -request", {}, {"to": ("python-dev-request@python.example",)}, False, False, "list"),
    ("noreply", {}, {"to": ("noreply@shop.example",)}, False, False, "no-reply"),
    ("no-reply with tag", {}, {"to": ("no-reply+x123@shop.example",)}, False, False, "list"),
    ("google group", {}, {"to": ("team@googlegroups.com",)}, False, False, "list"),
    ("announce", {}, {"to": ("announce@proj.example",)}, False, False, "list"),
    ("support is a person", {}, {"to": ("support@vendor.example",)}, True, False, "support@"),
    (
        "list + person",
        {},
        {"to": ("list@proj.example", "bob@client.example")},
        True,
        False,
        "bob@client.example",
    ),
    (
        "bulk",
        {},
        {"to": tuple(f"p{i}@client.example" for i in range(11))},
        False,
        False,
        "bulk: 11 recipients",
    ),
    (
        "ten is a conversation",
        {},
        {"to": tuple(f"p{i}@client.example" for i in range(10))},
        True,
        False,
        "external",
    ),
    (
        "excluded domain",
        {"exclude_domains": ("client.example",)},
        {},
        False,
        False,
        "bob@client.example by domain client.example",
    ),
    ("excluded subdomain", {"exclude_domains": ("example",)}, {}, False, False, "excluded"),
    (
        "domain is no suffix match",
        {"exclude_domains": ("ent.example",)},
        {},
        True,
        False,
        "external",
    ),
    (
        "excluded address",
        {"exclude_addresses": ("bob@client.example",)},
        {},
        False,
        False,
        "by address bob@client.example",
    ),
    (
        "one of two excluded",
        {"exclude_addresses": ("bob@client.example",)},
        {"cc": ("zoe@partner.example",)},
        True,
        False,
        "zoe@partner.example",
    ),
    (
        "excluded subject any case",
        {"exclude_subjects": ("invoice",)},
        {"subject": "Your INVOICE #42"},
        False,
        False,
        "subject contains 'invoice'",
    ),
    (
        "subject not excluded",
        {"exclude_subjects": ("invoice",)},
        {"subject": "Lunch"},
        True,
        False,
        "external",
    ),
]


@pytest.mark.parametrize(
    ("rule", "fields", "matches", "needs_text", "why"),
    [c[1:] for c in HEADER_CASES],
    ids=[c[0] for c in HEADER_CASES],
)
def test_check_headers(rule, fields, matches, needs_text, why):
    decision = check_headers(spec(**rule), sent(**fields), OWN)
    assert (decision.matches, decision.needs_text) == (matches, needs_text)
    assert why in decision.reason


def test_dry_run_drops_only_the_new_mail_bound():
    old = sent(date=CREATED - timedelta(days=3))
    assert not check_headers(spec(), old, OWN).matches
    assert check_headers(spec(), old, OWN, new_only=False).matches
    assert not check_headers(spec(), sent(is_draft=True), OWN, new_only=False).matches


def test_public_mail_domain_is_not_my_company():
    own = frozenset({"ann@gmail.com"})
    assert not is_internal("stranger@gmail.com", own)
    assert is_internal("ann@gmail.com", own)
    msg = sent(from_addr="ann@gmail.com", to=("stranger@gmail.com",))
    assert check_headers(spec(), msg, own).matches


@pytest.mark.parametrize(
    ("address", "is_list"),
    [
        ("list@proj.example", True),
        ("lists@proj.example", True),
        ("users@lists.debian.example", True),
        ("mailer-daemon@mx.example", True),
        ("do-not-reply@bank.example", True),
        ("donotreply@bank.example", True),
        ("notifications@github.example", True),
        ("noreply-alerts@cloud.example", True),
        ("dev-owner@proj.example", True),
        ("x@groups.io", True),
        ("bob@client.example", False),
        ("listener@radio.example", False),
        ("info@vendor.example", False),
        ("norah@client.example", False),
    ],
)
def test_looks_like_list(address, is_list):
    assert looks_like_list(address) is is_list


# -- the text ------------------------------------------------------------------------------------

GMAIL_QUOTE = """\
Thanks for the slides.

On Mon, 2 Nov 2026 at 10:04, Bob Client <bob@client.example> wrote:
> Could you send the pricing too?
> Best, Bob
"""
GMAIL_WRAPPED_ATTRIBUTION = """\
Sounds good, see you then.

On Mon, 2 Nov 2026 at 10:04, Roberta Longname-Client <
roberta.longname@client.example> wrote:

Are you free on Thursday?
"""
OUTLOOK_QUOTE = """\
Attached is the signed contract.

-----Original Message-----
From: Bob <bob@client.example>
Sent: Monday, November 2, 2026 10:04 AM
Subject: Contract

Can you sign and return it?
"""
OUTLOOK_RULE = """\
Here it is.

________________________________
From: Bob <bob@client.example>
Sent: Monday, November 2, 2026 10:04 AM
Any update?
"""
SIGNATURE = """\
Please find the invoice attached.

--\x20
Ann Smith | Acme | Who are we? https://acme.example/about
"""
URL_ONLY = """\
The report is at https://acme.example/report?id=42&view=full
Cheers, Ann
"""
GERMAN_QUOTE = """\
Danke, erledigt.

Am 02.11.2026 um 10:04 schrieb Bob <bob@client.example>:
> Kannst du das bis Freitag schicken?
"""
FORWARD = """\
FYI, see below.

---------- Forwarded message ---------
From: Carl <carl@acme.example>
Can we ship this week?
"""

TEXT_CASES = [
    # (id, text, the question found or None)
    ("plain question", "Hi Bob,\n\nCould we meet on Tuesday at 10?\n\nAnn", "Could we meet"),
    ("question mark mid-text", "Great news. Is the budget approved? Thanks!", "Is the budget"),
    ("request phrase", "Please confirm the delivery address.\nThanks", "Please confirm"),
    ("let me know", "I attached the draft. Let me know if anything is missing.", "Let me know"),
    ("what do you think, any case", "WHAT DO YOU THINK of the new logo", "WHAT DO YOU THINK"),
    ("are you available", "Are you available next week for a call.", "Are you available"),
    ("question above a quote", "Which option do you prefer?\n\n" + GMAIL_QUOTE, "Which option"),
    ("question in a closing bracket", "(Or is Monday better?)", "Or is Monday better"),
    ("statement with quoted question", GMAIL_QUOTE, None),
    ("wrapped gmail attribution", GMAIL_WRAPPED_ATTRIBUTION, None),
    ("outlook original message", OUTLOOK_QUOTE, None),
    ("outlook underscore rule", OUTLOOK_RULE, None),
    ("question only in signature", SIGNATURE, None),
    ("question mark only in a URL", URL_ONLY, None),
    ("german quote", GERMAN_QUOTE, None),
    ("forwarded question", FORWARD, None),
    ("thanks only", "Thanks, I will review it tomorrow.\n\nAnn", None),
    ("let you know is no request", "I'll let you know by Friday.", None),
    ("empty", "", None),
    ("a lone question mark", "Tickets: ? pending", None),
]


@pytest.mark.parametrize(
    ("text", "question"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES]
)
def test_find_question(text, question):
    found = find_question(text)
    if question is None:
        assert found is None
    else:
        assert found is not None and found.startswith(question)


def test_long_texts_are_read_in_linear_time():
    # Bodies are untrusted: a regular expression with nested repeats took minutes on a 2,000
    # character line without punctuation. These finish in milliseconds (or hit the timeout).
    assert find_question("word " * 20_000) is None
    assert find_question(("On a " * 500 + "\n") * 40) is None
    assert find_question("?" * 5_000 + " done") is None
    assert find_question("x" * 50_000 + " ok?") == "x" * 50_000 + " ok?"


def test_own_words_keeps_text_above_the_quote_and_drops_quoted_lines():
    text = "New point.\n> old point?\nStill mine.\n\nOn Tue, Bob wrote:\n> more"
    assert own_words(text) == "New point.\nStill mine."


def test_check_text_reasons():
    q = spec(question_only=True)
    assert check_text(q, "Can you send it?").matches
    assert check_text(q, "Can you send it?").reason == "asks: 'Can you send it?'"
    assert check_text(q, "Done.").reason == "no question in your text (questions only)"
    assert "empty" in check_text(q, "").reason
    assert check_text(spec(), "Done.").matches  # not questions only: any text


def test_judge_reads_the_text_only_when_it_decides():
    reads = []

    def read():
        reads.append(1)
        return "Could you review this?"

    assert judge(spec(), sent(), OWN, read).matches and reads == []
    assert not judge(spec(question_only=True), sent(to=("carl@acme.example",)), OWN, read).matches
    assert reads == []
    decision = judge(spec(question_only=True), sent(), OWN, read)
    assert decision.matches and reads == [1]
    assert decision.reason.startswith("external recipient bob@client.example; asks:")


# -- validation ----------------------------------------------------------------------------------


def test_validate_fields_normalises():
    fields = validate_fields(
        name="  Cold   outreach ",
        mode="Send",
        delays=["3 days", "1W"],
        exclude_domains="@Partner.example, *.corp.example\nmy.example",
        exclude_addresses=["Boss@Acme.example", "boss@acme.example"],
        exclude_subjects=["  Invoice  ", ""],
    )
    assert fields.name == "Cold outreach"
    assert fields.mode == "send"
    assert fields.delays == ["3d", "1w"]
    assert fields.exclude_domains == ["partner.example", "corp.example", "my.example"]
    assert fields.exclude_addresses == ["boss@acme.example"]
    assert fields.exclude_subjects == ["Invoice"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": " "}, "needs a name"),
        ({"mode": "shout"}, "unknown mode 'shout'"),
        ({"delays": []}, "at least one delay"),
        ({"delays": ["soon"]}, "'soon' is not a delay"),
        ({"delays": ["1d"] * 6}, "at most 5 bumps"),
        ({"exclude_domains": ["not a domain"]}, "is not a domain"),
        ({"exclude_domains": ["localhost"]}, "is not a domain"),
        ({"exclude_addresses": ["bob"]}, "'bob' is not an e-mail address"),
        ({"exclude_addresses": ["bob@"]}, "is not an e-mail address"),
    ],
)
def test_validate_fields_rejects_with_a_clear_message(fields, message):
    base = {"name": "R", "mode": "remind", "delays": ["3d"]}
    with pytest.raises(ValidationError) as e:
        validate_fields(**{**base, **fields})
    assert message in e.value.message


def test_stage_bound_matches_followups():
    assert rules.MAX_STAGES == MAX_STAGES


def test_describe():
    s = spec(question_only=True, exclude_domains=("x.example",), exclude_subjects=("invoice",))
    assert s.describe() == "rule 'Cold outreach' (#3)"
    assert rules.describe_conditions(s) == (
        "external recipients, questions only; not domain x.example, subject 'invoice'"
    )


# -- the recogniser (watcher.triggers.by_rule) -----------------------------------------------------


def _ctx(*rule_rows):
    from watcher.triggers import TriggerContext

    return TriggerContext(
        account_id=1,
        user_id=1,
        email="ann@acme.example",
        own_addresses=OWN,
        trigger_folders=True,
        rules=tuple(rule_rows),
        now=AFTER,
    )


def _row(rule_id: int, **kw):
    """A models.Rule as the recogniser reads it (plain attributes)."""
    from types import SimpleNamespace

    fields = {
        "id": rule_id,
        "name": f"R{rule_id}",
        "mode": "remind",
        "delays": ["3d"],
        "external_only": True,
        "question_only": False,
        "exclude_domains": [],
        "exclude_addresses": [],
        "exclude_subjects": [],
        "created_at": CREATED,
        **kw,
    }
    return SimpleNamespace(**fields)


def test_recogniser_names_every_rule_that_may_want_the_message_in_order():
    from watcher.triggers import by_rule

    rows = (_row(4, question_only=True), _row(5, exclude_domains=["client.example"]), _row(6))
    candidate = by_rule.recognise(_ctx(*rows), sent())
    assert (candidate.kind, candidate.key, candidate.spec) == ("rule", "<m1@acme.example>", "4,6")
    assert by_rule.rule_ids(candidate.spec) == [4, 6]
    assert by_rule.recognise(_ctx(), sent()) is None  # no rules: nothing
    assert by_rule.recognise(_ctx(*rows), sent(to=("carl@acme.example",))) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"bcc": ("ann+2w@acme.example",)},
        {"cc": ("Ann+fri@ACME.example",)},
        {"folder": "Replywatch/1 week"},
        {"is_draft": True},
    ],
    ids=["plus-address in bcc", "plus-address in cc", "trigger folder", "draft"],
)
def test_recogniser_leaves_explicit_triggers_alone_whatever_the_order(fields):
    from watcher.triggers import by_rule

    assert by_rule.recognise(_ctx(_row(1)), sent(**fields)) is None


def test_explicit_trigger_is_named_for_the_dry_run():
    from watcher.triggers.by_rule import explicit_trigger

    assert explicit_trigger(sent(cc=("ann+3d@acme.example",)), OWN) == (
        "the address ann+3d@acme.example sets its follow-up"
    )
    assert explicit_trigger(sent(folder="Replywatch/3 days"), OWN) == (
        "the folder Replywatch/3 days sets its follow-up"
    )
    assert explicit_trigger(sent(cc=("bob+x@client.example",)), OWN) is None


def test_bulk_is_more_than_ten_distinct_addresses():
    ten = [f"p{n}@x.example" for n in range(10)]
    assert bulk_reason(ten) is None
    assert bulk_reason([*ten, "P0@X.example", ""]) is None  # the same person twice, an empty one
    assert bulk_reason([*ten, "p10@x.example"]) == "bulk: 11 recipients (more than 10)"
