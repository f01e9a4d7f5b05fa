"""The six misjudgement patterns of issue 18, one group of tests each, and the safe side.

Each test names the pattern it guards; each fails on the classifier before the fix (header-only
judgement, null sender first, delay words only at the start of the subject, DSN fields read in
one order, Auto-Submitted over failure text, markers only at the start of the subject).
"""

from __future__ import annotations

import pytest

from watcher import body_signals
from watcher.classify import ClassifyContext, classify
from watcher.dsn import delivery_report
from watcher.mailbox import MessageSummary

ORIG = "<CAF=orig-1@mail.example.com>"
CTX = ClassifyContext(
    own_addresses=frozenset({"me@example.com"}), thread_message_ids=frozenset({ORIG})
)


def msg(
    text: str = "",
    subject: str = "Re: Proposal",
    from_addr: str = "bob@client.example",
    headers: dict[str, str] | None = None,
    from_name: str = "",
    **kw,
) -> MessageSummary:
    return MessageSummary(
        ref="INBOX/1/7",
        message_id="<m-1@client.example>",
        subject=subject,
        from_addr=from_addr,
        from_name=from_name,
        to=("me@example.com",),
        in_reply_to=kw.pop("in_reply_to", (ORIG,)),
        references=(ORIG,),
        headers=headers or {},
        text=text,
        **kw,
    )


def judge(m: MessageSummary) -> tuple[str, str]:
    v = classify(m, CTX)
    return v.kind, v.rule


# --- 1: nothing in the headers: the body decides ------------------------------------------

NDR_TEXT = (
    "Your message to bob.old@client.example couldn't be delivered.\n\n"
    "Remote server returned: 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found\n"
)


def test_p1_plain_bounce_from_a_gateway_with_a_re_subject_is_a_bounce():
    verdict = classify(msg(NDR_TEXT, from_addr="mailgw@client.example"), CTX)
    assert (verdict.kind, verdict.rule) == ("bounce", "report-text")
    assert "bob.old@client.example" in verdict.detail and "550 5.1.1" in verdict.detail


def test_p1_plain_bounce_with_a_non_english_subject_and_unusual_sender():
    text = "Votre message n'a pas pu être remis à claire@client.example.\n554 5.7.1 refusé\n"
    m = msg(text, subject="Non remis : Proposition", from_addr="passerelle@client.example")
    assert judge(m) == ("bounce", "report-text")


def test_p1_the_same_text_from_a_person_with_nothing_backing_it_stays_a_reply():
    assert judge(msg(NDR_TEXT)) == ("reply", "default-reply")


def test_p1_plain_delay_from_a_gateway_is_a_delay():
    text = "This message hasn't been delivered yet. Delivery will continue to be attempted.\n"
    m = msg(text, subject="Message delayed: Proposal", from_addr="mailgw@client.example")
    assert judge(m) == ("auto_reply", "dsn-delayed")


def test_p1_absence_form_without_header_or_subject_mark():
    text = (
        "Thank you for your email. I am currently out of the office with limited access to "
        "email. For urgent matters please contact help@client.example.\n"
    )
    assert judge(msg(text, subject="Proposal")) == ("auto_reply", "ooo-text")


def test_p1_absence_form_under_re_needs_to_say_it_is_automatic():
    away = "I am out of the office until 9 March with no access to email."
    assert judge(msg(away + " Back soon.", subject="RE: Proposal")) == ("reply", "default-reply")
    declared = "This is an automatic reply. " + away
    assert judge(msg(declared, subject="RE: Proposal")) == ("auto_reply", "ooo-text")


def test_p1_challenge_without_vendor_from_a_no_reply_sender():
    text = "Please confirm that you are a real person by clicking the link below.\n"
    m = msg(text, subject="Your message is waiting", from_addr="no-reply@client.example")
    assert judge(m) == ("auto_reply", "challenge-response")


@pytest.mark.parametrize(
    "text",
    [
        "Thanks!\n\nSent from my iPhone\n",
        "Looks good. I'm out of office next week, so let's sign before Friday.\n",
        "Hi Alice, yes. See below.\n\n-----Original Message-----\nFrom: Mail Delivery System\n"
        + NDR_TEXT,
        "Hi Alice, I got this back, do you have her new address?\n\n" + NDR_TEXT,
        "Back now - yes.\n\nOn Tue, 3 Mar 2026, Bob <bob@client.example> wrote:\n"
        "> I am currently out of the office with limited access to email.\n"
        "> For urgent matters please contact my colleague.\n",
    ],
    ids=["phone", "ooo-words", "quoted-bounce", "pasted-bounce", "quoted-ooo"],
)
def test_p1_safe_side_people_quoting_or_mentioning_machines_stay_replies(text):
    # Even from a system-looking address: a person's words come first, or the machine's
    # words are quoted.
    assert judge(msg(text, from_addr="mailadmin@client.example"))[0] == "reply"


def test_p1_authored_text_stops_at_quotes_forwards_and_signatures():
    text = "Yes.\n--\nBob\nOut of office Fridays"
    assert body_signals.authored_text(text) == "Yes."
    wrapped = "Ok.\nOn Mon, 2 Mar 2026 at 09:14, Alice Smith <a@example.com>\nwrote:\n> x"
    assert body_signals.authored_text(wrapped) == "Ok."
    assert body_signals.authored_text("Fine\n---------- Forwarded message ---------\nx") == "Fine"


# --- 2: a null sender is no bounce when the message is an absence notice --------------------

NULL = {"return-path": "<>"}


def test_p2_null_sender_with_an_ooo_subject_is_an_auto_reply():
    m = msg("I am out of the office until 11 March.", subject="Out of Office: Proposal",
            headers=NULL)  # fmt: skip
    assert judge(m) == ("auto_reply", "ooo-subject")


def test_p2_null_sender_with_an_absence_text_is_an_auto_reply():
    text = (
        "Thank you for your message. I'm currently on leave and will reply when I return. "
        "For urgent matters please contact my colleague Carol."
    )
    assert judge(msg(text, subject="Proposal", headers=NULL)) == ("auto_reply", "ooo-text")


def test_p2_null_sender_with_failure_text_is_still_a_bounce():
    text = "I'm sorry to have to inform you that your message could not be delivered.\n"
    m = msg(text, subject="Undelivered Mail", headers=NULL, in_reply_to=())
    assert judge(m) == ("bounce", "null-return-path")


# --- 3: delay wording of many MTAs, in body and subject -------------------------------------

DAEMON = "mailer-daemon@mx.example.com"


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Delayed Mail (still being retried)", "Your message could not be delivered for more "
         "than 4 hour(s). It will be retried until it is 5 day(s) old."),
        ("Warning: message 1vXyZq-0004Ab-7Q delayed 24 hours", "A message that you sent has "
         "not yet been delivered to one or more of its recipients. Eventually the mail "
         "delivery software will give up."),
        ("Warning: could not send message for past 4 hours", "Will keep trying until message "
         "is 5 days old"),
        ("Delivery status notification: delay", "Delays have been reported during the "
         "delivery of your message below."),
        ("Delivery delayed:Proposal", "Delivery is delayed to these recipients or groups:"),
        ("Delivery Notification: Delay", "has not been delivered yet to the following"),
        ("[Delayed] Proposal", "We will retry delivery for 48 hours."),
        ("Remise différée : Proposition", "Ce message n'a pas encore été remis."),
        ("Verzögerte Zustellung", "Dies ist nur eine Warnung."),
    ],
    ids=["postfix", "exim", "sendmail", "opensmtpd", "exchange", "domino", "gateway", "fr", "de"],
)  # fmt: skip
def test_p3_delay_warnings_are_not_bounces(subject, text):
    # An address named in the wording does not make the warning a failure.
    m = msg(f"{text}\n<bob@client.example>: 451 4.4.1 timeout", subject=subject,
            from_addr=DAEMON, in_reply_to=())  # fmt: skip
    assert judge(m) == ("auto_reply", "dsn-delayed")


def test_p3_a_final_failure_that_mentions_retrying_is_a_bounce():
    text = (
        "This message was created automatically by mail delivery software.\n\nA message that "
        "you sent could not be delivered to one or more of its recipients. This is a permanent "
        "error. The following address(es) failed:\n\n  bob@client.example\n    retry timeout "
        "exceeded\n"
    )
    m = msg(text, subject="Mail delivery failed: returning message to sender", from_addr=DAEMON)
    verdict = classify(m, CTX)
    assert verdict.kind == "bounce" and "retry timeout exceeded" in verdict.detail


def test_p3_delay_words_behind_a_persons_re_are_a_reply():
    m = msg("Sorry, delivery of the signed copy is delayed.", subject="Re: Proposal - delayed")
    assert judge(m) == ("reply", "default-reply")


# --- 4: DSN fields in any order, any part ---------------------------------------------------


def test_p4_action_before_final_recipient_names_the_failed_address():
    text = "Action: failed\nFinal-Recipient: rfc822; bob@client.example\nStatus: 5.1.1\n"
    report = delivery_report(msg(text))
    assert report.failed == ("bob@client.example",)


def test_p4_records_split_at_a_repeated_field():
    text = (
        "Final-Recipient: rfc822; carol@client.example\nAction: delayed\nStatus: 4.4.1\n"
        "Action: failed\nFinal-Recipient: rfc822; bob@client.example\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\n"
    )
    report = delivery_report(msg(text))
    assert report.failed == ("bob@client.example",)
    assert report.delayed == ("carol@client.example",)
    assert report.diagnostic == "550 5.1.1 User unknown"


def test_p4_domain_only_final_recipient():
    text = (
        "Final-Recipient: rfc822; @client.example\n"
        "Original-Recipient: rfc822; bob@client.example\nAction: failed\n"
    )
    assert delivery_report(msg(text)).failed == ("bob@client.example",)
    bare = delivery_report(msg("Final-Recipient: rfc822; @client.example\nAction: failed\n"))
    assert bare.failed == ("@client.example",) and bare.any_failure


def test_p4_a_failed_action_without_any_address_is_still_a_failure():
    report = delivery_report(msg("Reporting-MTA: dns; mx\n\nAction: failed\nStatus: 5.0.0\n"))
    assert report.any_failure and report.has_fields
    m = msg("Action: failed\nStatus: 5.0.0\n", from_addr=DAEMON, subject="Returned mail")
    assert judge(m)[0] == "bounce"  # not "dsn-success" (delivered)


def test_p4_status_without_action_decides():
    text = "Final-Recipient: rfc822; bob@client.example\nStatus: 5.1.1\n"
    assert delivery_report(msg(text)).failed == ("bob@client.example",)


def test_p4_fields_in_a_later_text_plain_part_are_read():
    from watcher.headers import body_text

    raw = (
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; bob@client.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--b--\r\n"
    )
    assert delivery_report(msg(body_text(raw))).failed == ("bob@client.example",)


# --- 5: Auto-Submitted does not beat clear failure text -------------------------------------


@pytest.mark.parametrize(
    ("header", "text"),
    [
        ({"auto-submitted": "auto-replied"}, "Your message couldn't be delivered to "
         "bob@client.example because the mailbox is full.\n\n552 5.2.2 Mailbox full"),
        ({"auto-submitted": "auto-generated"}, "Ihre Nachricht an bob@client.example konnte "
         "nicht zugestellt werden. Dauerhafter Fehler: 550 5.1.1"),
        ({"x-autoreply": "yes"}, "Votre message n'a pas pu être remis à bob@client.example."),
    ],
    ids=["auto-replied", "auto-generated-de", "x-autoreply-fr"],
)  # fmt: skip
def test_p5_automation_header_with_failure_text_is_a_bounce(header, text):
    verdict = classify(msg(text, subject="Proposal", headers=header), CTX)
    assert (verdict.kind, verdict.rule) == ("bounce", "report-text")
    assert "bob@client.example" in verdict.detail


def test_p5_automation_header_with_delay_text_is_a_delay():
    text = "This is a warning message only. We will keep trying for 2 more days."
    m = msg(text, subject="Proposal", headers={"auto-submitted": "auto-replied"})
    assert judge(m) == ("auto_reply", "dsn-delayed")


def test_p5_an_ordinary_ooo_with_auto_submitted_stays_an_auto_reply():
    m = msg("I am out of the office until Monday.", subject="Automatic reply: Proposal",
            headers={"auto-submitted": "auto-replied"})  # fmt: skip
    assert judge(m) == ("auto_reply", "auto-submitted")


# --- 6: auto-reply markers that are not at the start ----------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Proposal [Auto-Reply]",
        "[EXTERNAL] Automatic reply: Proposal",
        "*EXT* Out of Office: Proposal",
        "Proposal (Risposta automatica)",
        "【自動返信】ご提案について",
        "[Fuera de la oficina] Propuesta",
        "Proposta [Ausência]",
        "[Extern] Afwezigheidsmelding: Offerte",
        "Jürgen Schulz/KUNDE ist außer Haus.",
        "Jean Dupont est absent(e).",
        "Jane Doe is out of the office (returning 16.03.2026).",
        "Αυτόματη απάντηση: Proposal",
        "Răspuns automat: Proposal",
        "Proposal [Automatski odgovor]",
    ],
)
def test_p6_markers_anywhere_make_an_auto_reply(subject):
    assert judge(msg("", subject=subject)) == ("auto_reply", "ooo-subject")


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Automatic reply: Proposal",
        "Re: Proposal [Auto-Reply]",
        "[EXTERNAL] RE: Proposal",
        "[EXTERNAL] RE: Proposal [Auto-Reply]",
        "AW: Abwesenheitsnotiz: Angebot",
        "Re: out of office tomorrow?",
    ],
)
def test_p6_a_persons_reply_prefix_rules_markers_out(subject):
    assert judge(msg("Have a good holiday!", subject=subject)) == ("reply", "default-reply")


def test_p2_safe_side_a_person_relayed_with_a_null_sender_pasting_a_bounce_is_a_reply():
    text = (
        "Hi Alice, yes - go ahead. This came back when I sent it on to Carol:\n\n"
        "This is the mail system at host mx.client.example.\n"
        "<carol@client.example>: 550 5.1.1 User unknown\n"
    )
    assert judge(msg(text, headers=NULL)) == ("reply", "default-reply")


def test_p1_safe_side_a_ticket_agents_answer_with_an_automated_footer_is_a_reply():
    text = (
        "Hi Alice, the invoice is paid as of today. Kind regards, Tom\n\n"
        "This is an automated notification, please do not reply to this email.\n"
    )
    m = msg(text, subject="[Ticket #4821] Invoice 2026-031 overdue",
            from_addr="no-reply@client.example")  # fmt: skip
    assert judge(m) == ("reply", "default-reply")


@pytest.mark.parametrize(
    ("from_addr", "subject", "ctype", "wanted"),
    [
        ("noreply@mail.client.example", "Nachricht konnte nicht zugestellt werden",
         "multipart/mixed; boundary=b", True),
        ("mailgw@client.example", "Your message", "multipart/mixed; boundary=b", True),
        ("relay@client.example", "Non remis : Proposition", "text/plain", True),
        ("bob@client.example", "Signed contract", "multipart/mixed; boundary=b", False),
        ("newsletter@client.example", "March news", "text/plain", False),
    ],
)  # fmt: skip
def test_p1_a_plain_bounce_has_its_originals_id_read_so_it_joins_the_thread(
    from_addr, subject, ctype, wanted
):
    from watcher.headers import may_be_report

    m = msg(subject=subject, from_addr=from_addr, headers={"content-type": ctype})
    assert may_be_report(m) is wanted


def test_p1_safe_side_a_postmaster_writing_back_with_a_pasted_server_line_is_a_person():
    text = (
        "Hi Alice, I'm the postmaster here. Bob has left us; this is what our server said:\n"
        "<bob@client.example>: 550 5.1.1 User unknown\n"
    )
    m = msg(text, from_addr="postmaster@client.example")
    assert judge(m) == ("reply", "reply-from-postmaster")


def test_p1_a_full_absence_template_under_re_is_an_auto_reply_a_note_is_not():
    template = (
        "Thank you for your email. I am out of the office with limited access to email and "
        "will reply upon my return. For urgent matters please contact help@client.example."
    )
    assert judge(msg(template, subject="RE: Proposal")) == ("auto_reply", "ooo-text")
    note = "I'm out of the office until Monday; for urgent matters please call Jane. And yes!"
    assert judge(msg(note, subject="RE: Proposal")) == ("reply", "default-reply")


def test_p1_help_desk_acknowledgement_without_header_is_not_a_reply():
    text = "We have received your request and a ticket has been created (Request #4821)."
    m = msg(text, subject="[Request #4821] Proposal", from_addr="help@client.example")
    assert judge(m) == ("auto_reply", "ticket-ack")
    # The agent answering in the ticket thread is a person.
    answer = msg("We have received your payment, request #4821 is closed.",
                 subject="Re: [Request #4821] Proposal")  # fmt: skip
    assert judge(answer) == ("reply", "default-reply")


def test_p3_a_plain_delivery_confirmation_is_no_bounce():
    text = (
        "This is the mail system at host mx.example.com.\n\nYour message was successfully "
        "delivered to the destination(s) listed below.\n\n<bob@client.example>: delivery via "
        "mx.client.example: 250 2.0.0 Ok: queued\n"
    )
    m = msg(text, subject="Successful Mail Delivery Report", from_addr=DAEMON, in_reply_to=())
    assert judge(m) == ("auto_reply", "dsn-success")
