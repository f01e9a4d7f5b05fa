"""Delivery reports: is a message a bounce, a delay warning, or neither? Pure.

A helper of watcher/classify.py, which calls `judge` right after the user's own messages and
wraps the answer in a Verdict. Evidence, strongest first: a multipart/report delivery-status
report, X-MS-Exchange-Message-Is-Ndr, X-Failed-Recipients, a mailer-daemon/postmaster sender,
a null Return-Path; then, when the headers say nothing, the start of the body: an MTA's or
gateway's wording (watcher/wording.py) backed by a software sender, a failure/delay subject, an
SMTP status code, the original attached, or an automation header. What the report says per
recipient comes from watcher/dsn.py. A delay warning ("still trying") is never a failure.

The safe side: a null sender alone gives way to an absence notice or a person's reply; machine
wording a person pasted below their own words does not count; a postmaster writing back in
the thread with nothing that reports a failure is a person.
"""

from __future__ import annotations

import re

from watcher import auto_reply, wording
from watcher.body_signals import BodySignals
from watcher.dsn import delivery_report, failure_detail
from watcher.mailbox import MessageSummary

Judged = tuple[str, str, str]  # (kind, rule, detail) of a Verdict

_BOUNCE_LOCALPARTS = frozenset({"mailer-daemon", "postmaster"})


def is_null_return_path(value: str) -> bool:
    return re.fullmatch(r"<\s*>", value.strip()) is not None


def _local_part(address: str) -> str:
    return address.rpartition("@")[0].lower() if "@" in address else address.lower()


def judge(
    message: MessageSummary,
    headers: dict[str, str],
    body: BodySignals,
    *,
    auto_detail: str | None,
    dsn_report: str | None,
    personal: bool,
    why_personal: str,
) -> Judged | None:
    """`auto_detail`: the automation header that fired, if any; `dsn_report`: the detail of a
    multipart/report delivery-status Content-Type, if any; `personal`: the message looks like a
    person's reply (reply subject and In-Reply-To into the thread), `why_personal` says why."""
    subject = (message.subject or "").strip()
    replying = auto_reply.is_reply_subject(subject)
    signals: list[tuple[str, str]] = []  # (rule, detail)
    if dsn_report is not None:
        signals.append(("dsn-report", dsn_report))
    if "x-ms-exchange-message-is-ndr" in headers:
        signals.append(("exchange-ndr", "X-MS-Exchange-Message-Is-Ndr present"))
    if headers.get("x-failed-recipients"):
        signals.append(
            ("x-failed-recipients", f"X-Failed-Recipients: {headers['x-failed-recipients']}")
        )
    if _local_part(message.from_addr or "") in _BOUNCE_LOCALPARTS:
        signals.append(("mailer-daemon", f"sent by {message.from_addr}"))
    null_rp = is_null_return_path(headers.get("return-path", ""))
    subject_hit = auto_reply.at_start(wording.BOUNCE_SUBJECT, subject)
    delay_subject = not replying and auto_reply.at_start(wording.DELAY_SUBJECT, subject)
    info = delivery_report(message)
    system = wording.system_sender(message.from_addr or "", message.from_name or "")

    # Addresses read from the wording count only where a machine wrote it (not pasted by a
    # person below their own words); RFC 3464 fields always count.
    named_failure = info.any_failure and (info.has_fields or not body.person_first)
    machine = body.machine_failure or body.machine_delay
    if not signals and null_rp and auto_detail is None:
        # RFC 3834 asks auto-responders (e.g. Sieve vacation) to send with a null sender too:
        # with an automation header only clear failure or delay wording makes it a report.
        if not (subject_hit or named_failure or machine) and (
            personal or auto_reply.absence_marks(message, body)
        ):
            # A null sender alone: an out-of-office sent with <> must reach the auto-reply
            # rules (pattern 2), and a person's reply relayed with <> the reply rule.
            return None
        signals.append(("null-return-path", "Return-Path: <> (null sender)"))
    if not signals and subject_hit and auto_detail is not None:
        # A failure subject on its own is not enough; with an automation header it is.
        signals.append(("bounce-subject", f"subject {subject!r} with {auto_detail}"))
    if not signals and machine:
        # Nothing in the headers: a plain-message report from a postmaster-like, no-reply or
        # gateway sender, or under a failure/delay subject, says so in its first lines. An
        # automation header with clear failure text is a report too (pattern 5).
        backing = [
            why
            for why, present in (
                (f"sent by {message.from_addr}", system),
                (f"subject {subject!r}", subject_hit or delay_subject),
                # A quoted SMTP code backs the text only outside a person's "Re:" answer.
                ("an SMTP status code", body.smtp_code and not personal),
                ("the original attached", bool(message.reported_ids)),
                (auto_detail or "", auto_detail is not None),
            )
            if present
        ]
        if backing:
            phrase = body.failure or body.delay
            signals.append(("report-text", f"its text says {phrase!r}; {', '.join(backing)}"))
    if not signals:
        return None

    rule, detail = signals[0]
    quiet = not (subject_hit or named_failure or info.delayed or delay_subject or machine)
    if rule == "mailer-daemon" and len(signals) == 1 and quiet and personal:
        return (
            "reply",
            "reply-from-postmaster",
            f"sent from {message.from_addr}, but nothing in it reports a failed delivery "
            f"and {why_personal}: a postmaster writing back is a person",
        )
    # Without RFC 3464 fields the addresses come from the wording, which a delay warning
    # names too: only fields (or X-Failed-Recipients) make a failure final by themselves.
    final = (info.has_fields and info.any_failure) or bool(headers.get("x-failed-recipients"))
    if info.delayed and not info.any_failure:
        return (
            "auto_reply",
            "dsn-delayed",
            f"delivery delay warning, not a failure: still trying {', '.join(info.delayed)} "
            f"({detail})",
        )
    # Delay wording or subject, and nothing that makes a failure final: still trying.
    if not final and not body.permanent and (delay_subject or body.machine_delay):
        what = f"subject {subject!r}" if delay_subject else f"its text ({body.delay!r})"
        return (
            "auto_reply",
            "dsn-delayed",
            f"delivery delay warning, not a failure: {what} ({detail})",
        )
    if info.has_fields and not info.any_failure and not info.delayed:
        return (
            "auto_reply",
            "dsn-success",
            f"delivery status report without a failure (relayed/delivered) ({detail})",
        )
    if not info.has_fields and body.success and not (body.failure or body.permanent or final):
        # A plain delivery confirmation (Postfix success_template, Exchange relay notice):
        # the addresses its wording names were delivered, not failed.
        return (
            "auto_reply",
            "dsn-success",
            f"delivery confirmation without a failure: its text says it was delivered ({detail})",
        )
    why = detail
    if subject_hit and rule != "bounce-subject":
        why = f"{why}; subject {subject!r}"
    return "bounce", rule, failure_detail(info, why)
