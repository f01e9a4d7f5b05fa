"""Table-driven tests of watcher.classify, with header sets shaped like real systems."""

from __future__ import annotations

import pytest

from watcher.classify import (
    KINDS,
    REPLIER_POLICIES,
    ClassifyContext,
    Verdict,
    classify,
    replier_allowed,
)
from watcher.errors import ValidationError
from watcher.mailbox import MessageSummary

ORIG = "<CAF=orig-1@mail.example.com>"
BUMP = "<rw.abc123.1@example.com>"
CTX = ClassifyContext(
    own_addresses=frozenset({"me@example.com", "me.alias@example.org"}),
    own_message_ids=frozenset({BUMP}),
)
CTX_THREAD = ClassifyContext(
    own_addresses=CTX.own_addresses,
    own_message_ids=CTX.own_message_ids,
    thread_message_ids=frozenset({ORIG, BUMP}),
)
DSN = 'multipart/report; report-type=delivery-status; boundary="9B095B5ADSN=_01D"'
DSN_UPPER = 'Multipart/Report; Report-Type="Delivery-Status"; boundary="_000_DM6PR"'
ALT = 'multipart/alternative; boundary="000000000000a1b2c3"'


def msg(
    subject: str = "Re: Proposal",
    from_addr: str = "bob@client.example",
    headers: dict[str, str] | None = None,
    in_reply_to: tuple[str, ...] = (ORIG,),
    **kw,
) -> MessageSummary:
    return MessageSummary(
        ref="INBOX/1/42",
        message_id=kw.pop("message_id", "<reply-1@client.example>"),
        subject=subject,
        from_addr=from_addr,
        from_name=kw.pop("from_name", "Bob Smith"),
        to=("me@example.com",),
        in_reply_to=in_reply_to,
        references=in_reply_to,
        headers=headers or {},
        **kw,
    )


CASES = [
    # --- own --------------------------------------------------------------------------------
    ("own-address", msg(from_addr="me@example.com", in_sent=True), CTX, "own", "own-address"),
    ("own-alias", msg(from_addr="me.alias@example.org", in_sent=True), CTX, "own", "own-address"),
    (
        "own-alias-mixed-case",
        msg(from_addr="Me.Alias@Example.ORG", in_sent=True),
        CTX,
        "own",
        "own-address",
    ),
    # A From: line proves nothing: not in Sent, "me" is someone else's message in the thread.
    ("forged-own-address", msg(from_addr="me@example.com"), CTX, "reply", "not-in-sent"),
    ("forged-own-alias", msg(from_addr="Me.Alias@Example.ORG"), CTX, "reply", "not-in-sent"),
    (
        "forged-own-address-auto-reply",
        msg(from_addr="me@example.com", headers={"auto-submitted": "auto-replied"}),
        CTX,
        "auto_reply",
        "auto-submitted",
    ),
    ("empty-from-not-in-sent", msg(from_addr=""), CTX, "reply", "default-reply"),
    ("empty-from-in-sent", msg(from_addr="", in_sent=True), CTX, "own", "sent-folder"),
    (
        "own-bump-id-from-unlisted-alias",
        msg(from_addr="me@old-domain.example", message_id=BUMP),
        CTX,
        "own",
        "own-bump",
    ),
    (
        "own-sent-folder",
        msg(from_addr="me@unknown-alias.example", in_sent=True),
        CTX,
        "own",
        "sent-folder",
    ),
    (
        "own-vacation-is-still-own",
        msg(from_addr="me@example.com", headers={"auto-submitted": "auto-replied"}, in_sent=True),
        CTX,
        "own",
        "own-address",
    ),
    # --- bounces ------------------------------------------------------------------------------
    (
        "postfix-dsn",
        msg(
            subject="Undelivered Mail Returned to Sender",
            from_addr="mailer-daemon@mail.example.net",
            from_name="Mail Delivery System",
            in_reply_to=(),
            headers={"content-type": DSN, "return-path": "<>", "auto-submitted": "auto-replied"},
        ),
        CTX,
        "bounce",
        "dsn-report",
    ),
    (
        "office365-ndr-with-in-reply-to",
        msg(
            subject="Undeliverable: Proposal",
            from_addr="postmaster@contoso.onmicrosoft.com",
            from_name="Microsoft Outlook",
            headers={
                "content-type": DSN_UPPER,
                "x-ms-exchange-message-is-ndr": "",
                "auto-submitted": "auto-replied",
                "x-auto-response-suppress": "All",
            },
        ),
        CTX,
        "bounce",
        "dsn-report",
    ),
    (
        "gmail-dsn-2013-text-plain",
        msg(
            subject="Delivery Status Notification (Failure)",
            from_addr="mailer-daemon@googlemail.com",
            from_name="Mail Delivery Subsystem",
            in_reply_to=(),
            headers={
                "return-path": "<>",
                "x-failed-recipients": "nobody@example.org",
                "content-type": "text/plain; charset=ISO-8859-1",
            },
        ),
        CTX,
        "bounce",
        "x-failed-recipients",
    ),
    (
        "google-workspace-dsn",
        msg(
            subject="Delivery Status Notification (Failure)",
            from_addr="mailer-daemon@googlemail.com",
            headers={
                "return-path": "<>",
                "auto-submitted": "auto-replied",
                "content-type": DSN,
                "x-failed-recipients": "gone@client.example",
            },
        ),
        CTX,
        "bounce",
        "dsn-report",
    ),
    (
        "exim-failure",
        msg(
            subject="Mail delivery failed: returning message to sender",
            from_addr="mailer-daemon@mx.hoster.example",
            headers={
                "x-failed-recipients": "gone@client.example",
                "auto-submitted": "auto-replied",
            },
        ),
        CTX,
        "bounce",
        "x-failed-recipients",
    ),
    (
        "exchange-ndr-header-only",
        msg(
            subject="Undeliverable: Proposal",
            from_addr="microsoftexchange329e71ec88ae4615bbc36ab6ce41109e@contoso.com",
            headers={"x-ms-exchange-message-is-ndr": ""},
        ),
        CTX,
        "bounce",
        "exchange-ndr",
    ),
    (
        "qmail-failure-notice-mailer-daemon",
        msg(subject="failure notice", from_addr="mailer-daemon@smtp.example.biz"),
        CTX,
        "bounce",
        "mailer-daemon",
    ),
    (
        "null-return-path-alone",
        msg(
            subject="Returned mail: see transcript for details",
            from_addr="bounces@relay.example",
            headers={"return-path": "<>"},
        ),
        CTX,
        "bounce",
        "null-return-path",
    ),
    (
        "bounce-subject-with-auto-submitted",
        msg(
            subject="Undeliverable: Proposal",
            from_addr="noreply@gateway.example",
            headers={"auto-submitted": "auto-generated"},
        ),
        CTX,
        "bounce",
        "bounce-subject",
    ),
    (
        "ndr-whose-subject-quotes-delayed",
        msg(
            subject="Undeliverable: Shipment delayed",
            from_addr="postmaster@contoso.com",
            headers={"content-type": DSN},
        ),
        CTX,
        "bounce",
        "dsn-report",
    ),
    # --- delay warnings: never stop or fail a follow-up ---------------------------------------
    (
        "gmail-delay",
        msg(
            subject="Delivery Status Notification (Delay)",
            from_addr="mailer-daemon@googlemail.com",
            headers={"content-type": DSN, "return-path": "<>", "auto-submitted": "auto-replied"},
        ),
        CTX,
        "auto_reply",
        "dsn-delayed",
    ),
    (
        "postfix-delay",
        msg(
            subject="Delayed Mail (still being retried)",
            from_addr="mailer-daemon@mail.example.net",
            headers={"content-type": DSN, "return-path": "<>"},
        ),
        CTX,
        "auto_reply",
        "dsn-delayed",
    ),
    (
        "exim-delay",
        msg(
            subject="Warning: message 1vABcD-0001Xy-2Z delayed 24 hours",
            from_addr="mailer-daemon@mx.hoster.example",
            headers={"auto-submitted": "auto-replied"},
        ),
        CTX,
        "auto_reply",
        "dsn-delayed",
    ),
    (
        "exchange-delay",
        msg(
            subject="Delivery delayed:Proposal",
            from_addr="postmaster@contoso.com",
            headers={"content-type": DSN},
        ),
        CTX,
        "auto_reply",
        "dsn-delayed",
    ),
    (
        "sendmail-delay",
        msg(
            subject="Warning: could not send message for past 4 hours",
            from_addr="mailer-daemon@old.example.edu",
            headers={"return-path": "<>"},
        ),
        CTX,
        "auto_reply",
        "dsn-delayed",
    ),
    # --- auto-replies -------------------------------------------------------------------------
    (
        "gmail-vacation-responder",
        msg(
            subject="Re: Proposal",
            from_addr="bob@gmail.com",
            headers={"auto-submitted": "auto-replied"},
        ),
        CTX,
        "auto_reply",
        "auto-submitted",
    ),
    (
        "exchange-oof-with-loop",
        msg(
            subject="Automatic reply: Proposal",
            from_addr="bob@corp.example",
            headers={
                "x-auto-response-suppress": "All",
                "x-ms-exchange-inbox-rules-loop": "bob@corp.example",
                "content-type": ALT,
            },
        ),
        CTX,
        "auto_reply",
        "exchange-oof",
    ),
    (
        "exchange-oof-loop-suppress-list-with-oof",
        msg(
            subject="RE: Proposal",
            headers={
                "x-auto-response-suppress": "DR, RN, NRN, OOF, AutoReply",
                "x-ms-exchange-inbox-rules-loop": "bob@corp.example",
            },
        ),
        CTX,
        "auto_reply",
        "exchange-oof",
    ),
    (
        "exchange-oof-without-loop-subject-fallback",
        msg(
            subject="Automatic reply: Proposal",
            from_addr="bob@corp.example",
            headers={"x-auto-response-suppress": "All"},
        ),
        CTX,
        "auto_reply",
        "ooo-subject",
    ),
    (
        "outlook-human-reply-with-suppress-no-loop",
        msg(subject="RE: Proposal", headers={"x-auto-response-suppress": "All"}),
        CTX,
        "reply",
        "default-reply",
    ),
    (
        "office365-oof-auto-submitted",
        msg(
            subject="Automatic reply: Proposal",
            headers={
                "auto-submitted": "auto-generated",
                "x-auto-response-suppress": "All",
                "x-ms-exchange-inbox-rules-loop": "bob@client.example",
            },
        ),
        CTX,
        "auto_reply",
        "auto-submitted",
    ),
    (
        "zimbra-vacation",
        msg(subject="Re: Proposal", headers={"auto-submitted": "auto-replied (zimbra; vacation)"}),
        CTX,
        "auto_reply",
        "auto-submitted",
    ),
    (
        "auto-submitted-owner-email-param",
        msg(headers={"auto-submitted": 'auto-replied; owner-email="bob@client.example"'}),
        CTX,
        "auto_reply",
        "auto-submitted",
    ),
    (
        "auto-notified",
        msg(headers={"auto-submitted": "auto-notified"}),
        CTX,
        "auto_reply",
        "auto-submitted",
    ),
    (
        "sieve-vacation-null-sender",
        msg(
            subject="Auto: Proposal",
            headers={"auto-submitted": "auto-replied", "return-path": "<>"},
        ),
        CTX,
        "auto_reply",
        "auto-submitted",
    ),
    (
        "mimecast-auto-submitted-and-suppress",
        msg(
            subject="Out of Office: Proposal",
            headers={"auto-submitted": "auto-generated", "x-auto-response-suppress": "All"},
        ),
        CTX,
        "auto_reply",
        "auto-submitted",
    ),
    ("x-autoreply-yes", msg(headers={"x-autoreply": "yes"}), CTX, "auto_reply", "x-autoreply"),
    (
        "cpanel-x-autorespond",
        msg(headers={"x-autorespond": "Proposal"}),
        CTX,
        "auto_reply",
        "x-autoreply",
    ),
    ("x-autoresponder", msg(headers={"x-autoresponder": "1"}), CTX, "auto_reply", "x-autoreply"),
    ("x-autoreply-no", msg(headers={"x-autoreply": "no"}), CTX, "reply", "default-reply"),
    (
        "precedence-auto-reply-underscore",
        msg(headers={"precedence": "auto_reply"}),
        CTX,
        "auto_reply",
        "precedence-auto-reply",
    ),
    (
        "precedence-auto-reply-dash",
        msg(headers={"precedence": "Auto-Reply"}),
        CTX,
        "auto_reply",
        "precedence-auto-reply",
    ),
    (
        "auto-submitted-beats-precedence-bulk",
        msg(headers={"auto-submitted": "auto-replied", "precedence": "bulk"}),
        CTX,
        "auto_reply",
        "auto-submitted",
    ),
    (
        "header-keys-not-lower-case",
        msg(headers={"Auto-Submitted": "Auto-Replied"}),
        CTX,
        "auto_reply",
        "auto-submitted",
    ),
    (
        "read-receipt",
        msg(
            subject="Read: Proposal",
            headers={
                "content-type": "multipart/report; report-type=disposition-notification; "
                'boundary="b1"'
            },
        ),
        CTX,
        "auto_reply",
        "read-receipt",
    ),
    # --- subject heuristics (last resort) -----------------------------------------------------
    ("ooo-out-of-office", msg(subject="Out of Office: Proposal"), CTX, "auto_reply", "ooo-subject"),
    (
        "ooo-out-of-office-autoreply",
        msg(subject="Out of Office AutoReply: Proposal"),
        CTX,
        "auto_reply",
        "ooo-subject",
    ),
    ("ooo-OOO", msg(subject="OOO: back on Monday"), CTX, "auto_reply", "ooo-subject"),
    ("ooo-OOF", msg(subject="OOF: Proposal"), CTX, "auto_reply", "ooo-subject"),
    ("ooo-auto-reply", msg(subject="Auto reply: Proposal"), CTX, "auto_reply", "ooo-subject"),
    ("ooo-autoreply", msg(subject="Autoreply: Proposal"), CTX, "auto_reply", "ooo-subject"),
    (
        "ooo-de-abwesenheitsnotiz",
        msg(subject="Abwesenheitsnotiz: Angebot"),
        CTX,
        "auto_reply",
        "ooo-subject",
    ),
    (
        "ooo-de-automatische-antwort",
        msg(subject="Automatische Antwort: Angebot"),
        CTX,
        "auto_reply",
        "ooo-subject",
    ),
    ("ooo-fr", msg(subject="Réponse automatique : Proposition"), CTX, "auto_reply", "ooo-subject"),
    ("ooo-es", msg(subject="Respuesta automática: Propuesta"), CTX, "auto_reply", "ooo-subject"),
    ("ooo-nl", msg(subject="Automatisch antwoord: Voorstel"), CTX, "auto_reply", "ooo-subject"),
    ("ooo-pt", msg(subject="Resposta automática: Proposta"), CTX, "auto_reply", "ooo-subject"),
    ("ooo-ja", msg(subject="自動応答: ご提案"), CTX, "auto_reply", "ooo-subject"),
    ("ooo-zh-fullwidth-colon", msg(subject="自动回复\uff1a提案"), CTX, "auto_reply", "ooo-subject"),
    (
        "ooo-lotus-notes",
        msg(subject="Jane Doe is out of the office."),
        CTX,
        "auto_reply",
        "ooo-subject",
    ),
    (
        "rfc3834-auto-prefix-with-in-reply-to",
        msg(subject="Auto: Proposal"),
        CTX,
        "auto_reply",
        "ooo-subject",
    ),
    (
        "auto-prefix-without-in-reply-to-is-not-enough",
        msg(subject="Auto: insurance quote", in_reply_to=()),
        CTX,
        "reply",
        "default-reply",
    ),
    (
        "auto-submitted-no-vetoes-subject",
        msg(subject="Automatic reply: Proposal", headers={"auto-submitted": "no"}),
        CTX,
        "reply",
        "default-reply",
    ),
    # --- people writing about absence or bounces are people -----------------------------------
    (
        "human-re-out-of-office",
        msg(subject="Re: out of office tomorrow?"),
        CTX,
        "reply",
        "default-reply",
    ),
    ("human-re-ooo", msg(subject="RE: OOO: back on Monday"), CTX, "reply", "default-reply"),
    (
        "human-aw-abwesenheitsnotiz",
        msg(subject="AW: Abwesenheitsnotiz: Angebot"),
        CTX,
        "reply",
        "default-reply",
    ),
    ("human-re-ja", msg(subject="Re: 自動応答: ご提案"), CTX, "reply", "default-reply"),
    (
        "human-re-undeliverable",
        msg(subject="Re: Undeliverable: Proposal"),
        CTX,
        "reply",
        "default-reply",
    ),
    (
        "human-bounce-like-subject-alone",
        msg(subject="Returned mail: the parcel came back", in_reply_to=()),
        CTX,
        "reply",
        "default-reply",
    ),
    (
        "human-reply-precedence-bulk-gateway",
        msg(subject="RE: Proposal", headers={"precedence": "bulk"}),
        CTX_THREAD,
        "reply",
        "reply-despite-precedence",
    ),
    (
        "human-reply-precedence-junk-gateway",
        msg(subject="AW: Proposal", headers={"precedence": "junk"}),
        CTX,
        "reply",
        "reply-despite-precedence",
    ),
    (
        "human-reply-list-unsubscribe-gateway",
        msg(subject="Re: Proposal", headers={"list-unsubscribe": "<mailto:unsub@gw.example>"}),
        CTX_THREAD,
        "reply",
        "reply-despite-precedence",
    ),
    # --- list mail ----------------------------------------------------------------------------
    (
        "mailing-list-copy",
        msg(
            subject="Re: [dev] Proposal",
            headers={
                "list-id": "Developers <dev.lists.example.org>",
                "precedence": "list",
                "list-unsubscribe": "<mailto:dev-leave@lists.example.org>",
            },
        ),
        CTX,
        "reply",
        "reply-via-list",
    ),
    (
        "mailing-list-post-not-a-reply",
        msg(
            subject="[dev] Release notes 4.2",
            in_reply_to=(),
            headers={"list-id": "Developers <dev.lists.example.org>", "precedence": "list"},
        ),
        CTX,
        "list",
        "list-id",
    ),
    (
        "precedence-list",
        msg(subject="[dev] notes", in_reply_to=(), headers={"precedence": "list"}),
        CTX,
        "list",
        "precedence-list",
    ),
    (
        "newsletter-precedence-bulk",
        msg(subject="Our March newsletter", in_reply_to=(), headers={"precedence": "bulk"}),
        CTX,
        "list",
        "precedence-list",
    ),
    (
        "bulk-re-subject-in-reply-to-outside-thread",
        msg(
            subject="Re: Proposal",
            in_reply_to=("<other@elsewhere.example>",),
            headers={"precedence": "bulk"},
        ),
        CTX_THREAD,
        "list",
        "precedence-list",
    ),
    (
        "bulk-no-re-subject",
        msg(subject="Proposal", headers={"precedence": "bulk"}, in_reply_to=()),
        CTX,
        "list",
        "precedence-list",
    ),
    (
        "bulk-changed-subject-answering-the-thread",
        msg(subject="Proposal (revised)", headers={"precedence": "bulk"}),
        CTX,
        "reply",
        "reply-despite-precedence",
    ),
    (
        "list-unsubscribe-only",
        msg(subject="Weekly digest", in_reply_to=(), headers={"list-unsubscribe": "<https://x>"}),
        CTX,
        "list",
        "list-unsubscribe",
    ),
    (
        "ooo-subject-beats-precedence-bulk",
        msg(subject="Automatic reply: Proposal", headers={"precedence": "bulk"}),
        CTX,
        "auto_reply",
        "ooo-subject",
    ),
    # --- plain replies ------------------------------------------------------------------------
    ("gmail-human-reply", msg(headers={"content-type": ALT}), CTX, "reply", "default-reply"),
    (
        "human-reply-from-colleague",
        msg(subject="Re: Proposal", from_addr="carol@client.example"),
        CTX,
        "reply",
        "default-reply",
    ),
    (
        "empty-everything",
        msg(subject="", in_reply_to=(), from_name=""),
        CTX,
        "reply",
        "default-reply",
    ),
]


@pytest.mark.parametrize(
    ("message", "context", "kind", "rule"),
    [pytest.param(m, c, k, r, id=i) for i, m, c, k, r in CASES],
)
def test_classify(message: MessageSummary, context: ClassifyContext, kind: str, rule: str):
    verdict = classify(message, context)
    assert (verdict.kind, verdict.rule) == (kind, rule), verdict.describe()
    assert verdict.kind in KINDS
    assert verdict.detail


def test_case_ids_are_unique_and_plentiful():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 40


@pytest.mark.parametrize(
    ("message", "context", "fragments"),
    [
        pytest.param(
            msg(headers={"auto-submitted": "auto-replied (zimbra; vacation)"}),
            CTX,
            ["auto-reply (", "Auto-Submitted: auto-replied (zimbra; vacation)"],
            id="describe-auto-submitted",
        ),
        pytest.param(
            msg(subject="RE: Proposal", headers={"precedence": "bulk"}),
            CTX,
            ["Precedence: bulk", "In-Reply-To", "subject is a reply"],
            id="conflict-precedence-explained",
        ),
        pytest.param(
            msg(
                subject="Delivery Status Notification (Delay)",
                from_addr="mailer-daemon@googlemail.com",
                headers={"content-type": DSN},
            ),
            CTX,
            ["not a failure", "(Delay)"],
            id="delay-explained",
        ),
        pytest.param(
            msg(
                subject="Auto: Proposal",
                headers={"auto-submitted": "auto-replied", "return-path": "<>"},
            ),
            CTX,
            ["null Return-Path"],
            id="null-sender-auto-reply-explained",
        ),
        pytest.param(
            msg(subject="Automatic reply: Proposal", headers={"auto-submitted": "no"}),
            CTX,
            ["Auto-Submitted: no"],
            id="auto-submitted-no-explained",
        ),
        pytest.param(
            msg(subject="RE: Proposal", headers={"x-auto-response-suppress": "All"}),
            CTX,
            ["X-Auto-Response-Suppress", "does not make an auto-reply"],
            id="suppress-without-loop-explained",
        ),
        pytest.param(
            msg(
                subject="Undeliverable: Proposal",
                from_addr="postmaster@contoso.com",
                headers={"content-type": DSN},
            ),
            CTX,
            ["bounce (", "Undeliverable: Proposal"],
            id="bounce-subject-in-detail",
        ),
        pytest.param(msg(message_id=BUMP), CTX, ["own message (", BUMP], id="own-bump-describe"),
    ],
)
def test_detail_explains(message: MessageSummary, context: ClassifyContext, fragments: list[str]):
    text = classify(message, context).describe()
    for fragment in fragments:
        assert fragment in text


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        pytest.param(Verdict("reply", "default-reply", "from a@b"), "reply (from a@b)", id="reply"),
        pytest.param(
            Verdict("auto_reply", "auto-submitted", "Auto-Submitted: auto-replied"),
            "auto-reply (Auto-Submitted: auto-replied)",
            id="auto",
        ),
        pytest.param(Verdict("list", "list-id", ""), "list mail", id="no-detail"),
    ],
)
def test_describe(verdict: Verdict, expected: str):
    assert verdict.describe() == expected


RECIPIENTS = frozenset({"bob@client.example", "Alice@Partner.Example"})


@pytest.mark.parametrize(
    ("from_addr", "policy", "allowed"),
    [
        pytest.param("bob@client.example", "anyone", True, id="anyone-recipient"),
        pytest.param("stranger@else.example", "anyone", True, id="anyone-stranger"),
        pytest.param("", "anyone", True, id="anyone-no-sender"),
        pytest.param("bob@client.example", "recipients", True, id="recipients-exact"),
        pytest.param("alice@partner.example", "recipients", True, id="recipients-case-folded"),
        pytest.param("BOB@CLIENT.EXAMPLE", "recipients", True, id="recipients-upper-sender"),
        pytest.param("carol@client.example", "recipients", False, id="recipients-colleague"),
        pytest.param("", "recipients", False, id="recipients-no-sender"),
        pytest.param("carol@client.example", "domain", True, id="domain-colleague"),
        pytest.param("dave@PARTNER.example", "domain", True, id="domain-case-folded"),
        pytest.param("eve@sub.client.example", "domain", False, id="domain-subdomain-differs"),
        pytest.param("eve@else.example", "domain", False, id="domain-stranger"),
        pytest.param("", "domain", False, id="domain-no-sender"),
    ],
)
def test_replier_allowed(from_addr: str, policy: str, allowed: bool):
    assert policy in REPLIER_POLICIES
    assert replier_allowed(msg(from_addr=from_addr), RECIPIENTS, policy) is allowed


def test_replier_unknown_policy():
    with pytest.raises(ValidationError, match="unknown replier policy"):
        replier_allowed(msg(), RECIPIENTS, "friends")
