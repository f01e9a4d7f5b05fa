"""What kind of message arrived in a tracked thread: a person's reply, or something else.

Pure: reads a `MessageSummary` and returns a `Verdict` naming the rule that fired, so every
decision can be written to the event log and explained to the user. Headers first, then the
start of the body (`text`, read for every message the engine judges: Mailbox.with_text), and
only the author's own part of it (watcher/body_signals.py cuts quotes and signatures): which
recipient failed and why (watcher/dsn.py: RFC 3464 fields in any order and part, or the
wording of non-standard bounces), whether a report is only a delay warning, and whether a
message with no telling header is a report or an absence notice by its wording
(watcher/wording.py, many MTAs and languages). Auto-replies by subject or text:
watcher/auto_reply.py.

Order: own -> bounce (or delay warning) -> challenge-response -> auto_reply (headers) ->
report -> auto_reply (subject, Exchange rule, text) -> list -> reply. A null sender alone is
no bounce when the subject or text is an absence notice; an automation header does not beat
clear failure or delay wording in the text.
The leaning rule throughout: a human reply must never be taken for an auto-reply or a bounce
(either lets the follow-up bump again or fail, so a wrong verdict means nagging or dropping
someone who already answered). Weak signals (Precedence: bulk, List-Unsubscribe, a lone
X-Auto-Response-Suppress or inbox-rule header, a postmaster or null sender, machine wording
that a person pasted below their own words) therefore give way to a message that looks like a
person's reply, and the `detail` says why. The price is known and accepted: an auto-reply with
no mark but a body a person could have written (a client-side Outlook rule answering
"RE: ..." without saying it is automatic) is judged a reply. The corpus in tests/fixtures/mail
holds examples of each case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message

from watcher import auto_reply, body_signals, bounce
from watcher.dsn import DeliveryReport, delivery_report
from watcher.errors import ValidationError
from watcher.mailbox import MessageSummary

__all__ = ["DeliveryReport", "delivery_report"]  # re-exported: the engine reads reports here

KINDS = ("reply", "auto_reply", "bounce", "own", "list")

_KIND_LABELS = {
    "reply": "reply",
    "auto_reply": "auto-reply",
    "bounce": "bounce",
    "own": "own message",
    "list": "list mail",
}


@dataclass(frozen=True)
class Verdict:
    kind: str  # one of KINDS
    rule: str  # short machine name of the rule that fired, e.g. "auto-submitted"
    detail: str  # human text for the event log, e.g. "Auto-Submitted: auto-replied"

    def describe(self) -> str:
        label = _KIND_LABELS.get(self.kind, self.kind)
        return f"{label} ({self.detail})" if self.detail else label


@dataclass(frozen=True)
class ClassifyContext:
    own_addresses: frozenset[str]  # the account address and aliases, lower-case
    own_message_ids: frozenset[str] = frozenset()  # Message-IDs of bumps Replywatch sent
    # Message-IDs known to belong to the tracked thread. Optional: when empty, any In-Reply-To
    # counts as "pointing into the thread" (the caller matched the message to the thread already).
    thread_message_ids: frozenset[str] = frozenset()


# Subject patterns and machine wording live in watcher/wording.py (shared with the body reader).

# --- helpers ----------------------------------------------------------------------------------


def _norm_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.strip().lower(): (v or "").strip() for k, v in headers.items()}


def _strip_comments(value: str) -> str:
    """Drop RFC 5322 comments: "auto-replied (zimbra; vacation)" -> "auto-replied"."""
    previous = None
    while previous != value:
        previous = value
        value = re.sub(r"\([^()]*\)", " ", value)
    return value.strip()


def _first_token(value: str) -> str:
    value = _strip_comments(value)
    match = re.match(r"\s*([A-Za-z0-9_.-]+)", value)
    return match.group(1).lower() if match else ""


def _content_type(value: str) -> tuple[str, str]:
    """(maintype/subtype, report-type) of a Content-Type header value, lower-case."""
    if not value:
        return "", ""
    msg = Message()
    msg["Content-Type"] = value
    report_type = msg.get_param("report-type", "")
    if not isinstance(report_type, str):  # RFC 2231 tuple
        report_type = str(report_type[2]) if len(report_type) == 3 else ""
    return msg.get_content_type().lower(), report_type.strip().lower()


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower() if "@" in address else ""


def _truthy_flag(value: str) -> bool:
    """X-Autoreply and friends: present means yes, unless it plainly says no."""
    return _first_token(value) not in {"no", "false", "0", "off"}


def _looks_like_reply(message: MessageSummary, context: ClassifyContext) -> tuple[bool, str]:
    """A person's reply: a "Re:"-style subject and In-Reply-To into the thread. (ok, why)."""
    if not auto_reply.is_reply_subject(message.subject or ""):
        return False, ""
    if not message.in_reply_to:
        return False, ""
    if context.thread_message_ids and not set(message.in_reply_to) & context.thread_message_ids:
        return False, ""
    return True, "In-Reply-To points into the thread and the subject is a reply"


def _points_into_thread(message: MessageSummary, context: ClassifyContext) -> bool:
    """In-Reply-To or References names a message of the thread (any, if the thread is unknown)."""
    named = {*message.in_reply_to, *message.references}
    if not named:
        return False
    return not context.thread_message_ids or bool(named & context.thread_message_ids)


# --- the classifier ---------------------------------------------------------------------------


def _own(message: MessageSummary, context: ClassifyContext) -> Verdict | None:
    """The user's own message: a bump Replywatch sent, or anything in the user's Sent (folder
    or label). A From: line alone proves nothing: inbound mail can claim any sender."""
    if message.message_id and message.message_id in context.own_message_ids:
        return Verdict("own", "own-bump", f"a follow-up Replywatch sent ({message.message_id})")
    if not message.in_sent:
        return None
    sender = (message.from_addr or "").strip().lower()
    if sender and sender in _own_set(context):
        return Verdict("own", "own-address", f"from your address {sender}, in your sent mail")
    return Verdict("own", "sent-folder", "found among your sent mail")


def _own_set(context: ClassifyContext) -> set[str]:
    return {a.strip().lower() for a in context.own_addresses}


def _claims_to_be_you(message: MessageSummary, context: ClassifyContext) -> str | None:
    """The note for a message From: one of the user's addresses that is not in their Sent: a
    forgery (or a copy of theirs whose Sent copy is missing). It is judged as what it is, a
    message from someone else in the thread: never as the user's own."""
    sender = (message.from_addr or "").strip().lower()
    if message.in_sent or not sender or sender not in _own_set(context):
        return None
    return (
        f"it says it is from your address {sender} but is not in your sent mail, and a From "
        "line proves nothing, so it is judged as someone else's message"
    )


def _auto_reply_signal(headers: dict[str, str]) -> Verdict | None:
    """The header-based auto-reply rules (not the subject heuristics)."""
    if "auto-submitted" in headers:
        value = headers["auto-submitted"]
        kind = _first_token(value)
        if kind and kind != "no":
            return Verdict("auto_reply", "auto-submitted", f"Auto-Submitted: {value}")
    for name, label in (
        ("x-autoreply", "X-Autoreply"),
        ("x-autorespond", "X-Autorespond"),
        ("x-autoresponder", "X-Autoresponder"),
    ):
        if name in headers and _truthy_flag(headers[name]):
            value = headers[name]
            return Verdict("auto_reply", "x-autoreply", f"{label}: {value}".rstrip(": "))
    precedence = _first_token(headers.get("precedence", ""))
    if precedence in {"auto_reply", "auto-reply", "autoreply"}:
        return Verdict("auto_reply", "precedence-auto-reply", f"Precedence: {precedence}")
    suppress = headers.get("x-auto-response-suppress", "")
    tokens = {t.strip().lower() for t in re.split(r"[,\s]+", suppress) if t.strip()}
    if tokens & {"all", "oof"} and "x-ms-exchange-inbox-rules-loop" in headers:
        return Verdict(
            "auto_reply",
            "exchange-oof",
            f"Exchange inbox rule (X-Auto-Response-Suppress: {suppress}, "
            f"X-MS-Exchange-Inbox-Rules-Loop present)",
        )
    return None


def _report(headers: dict[str, str]) -> Verdict | None:
    ctype, report_type = _content_type(headers.get("content-type", ""))
    if ctype != "multipart/report":
        return None
    if report_type == "delivery-status":
        return Verdict("bounce", "dsn-report", "delivery status report (multipart/report)")
    if report_type == "disposition-notification":
        return Verdict("auto_reply", "read-receipt", "read receipt (disposition-notification)")
    return Verdict(
        "auto_reply", "report", f"automated report (report-type={report_type or 'unknown'})"
    )


looks_like_auto_reply_subject = auto_reply.looks_like_auto_reply_subject


def _auto(found: tuple[str, str] | None) -> Verdict | None:
    return Verdict("auto_reply", *found) if found is not None else None


def _subject_auto_reply(message: MessageSummary, headers: dict[str, str]) -> Verdict | None:
    return _auto(auto_reply.by_subject(message, headers))


def _exchange_rule(message: MessageSummary, headers: dict[str, str]) -> Verdict | None:
    return _auto(auto_reply.exchange_rule(message, headers))


def _list(
    message: MessageSummary, headers: dict[str, str], context: ClassifyContext
) -> Verdict | None:
    personal, why = _looks_like_reply(message, context)
    if headers.get("list-id"):
        strong = Verdict("list", "list-id", f"List-Id: {headers['list-id']}")
    elif _first_token(headers.get("precedence", "")) == "list":
        strong = Verdict("list", "precedence-list", "Precedence: list")
    else:
        strong = None
    if strong is not None:
        if personal:
            # The list's copy of a person answering in the thread: the same Message-ID may
            # never arrive directly, so this copy is the reply.
            return Verdict(
                "reply", "reply-via-list", f"{strong.detail}, but {why}: a member answering"
            )
        return strong
    precedence = _first_token(headers.get("precedence", ""))
    weak: Verdict | None = None
    if precedence in {"bulk", "junk"}:
        weak = Verdict("list", "precedence-list", f"Precedence: {precedence}")
    elif "list-unsubscribe" in headers:
        weak = Verdict("list", "list-unsubscribe", "List-Unsubscribe present")
    if weak is None:
        return None
    if personal:
        return Verdict(
            "reply",
            "reply-despite-precedence",
            f"{weak.detail} (often added by mail gateways), but {why}",
        )
    if _points_into_thread(message, context):
        return Verdict(
            "reply",
            "reply-despite-precedence",
            f"{weak.detail} (often added by mail gateways), but it answers a message in the "
            "thread (In-Reply-To/References) and bulk mail does not",
        )
    return weak


def classify(message: MessageSummary, context: ClassifyContext) -> Verdict:
    """Name what `message` is for the follow-up whose thread it arrived in."""
    own = _own(message, context)
    if own is not None:
        return own
    headers = _norm_headers(message.headers)
    auto = _auto_reply_signal(headers)
    vetoed = _first_token(headers.get("auto-submitted", "")) == "no"
    # The start of the body, read for every message (headers first, then the text); a sender
    # that says "Auto-Submitted: no" is taken at its word and its text is not second-guessed.
    body = body_signals.read("" if vetoed else message.text)

    personal, why = _looks_like_reply(message, context)
    report = _report(headers)
    found = bounce.judge(
        message,
        headers,
        body,
        auto_detail=auto.detail if auto else None,
        dsn_report=report.detail if report is not None and report.kind == "bounce" else None,
        personal=personal,
        why_personal=why,
    )
    if found is not None:
        return Verdict(*found)

    challenge = _auto(auto_reply.challenge(message, auto.detail if auto else None, body))
    if challenge is not None:
        return challenge
    if auto is not None:
        if bounce.is_null_return_path(headers.get("return-path", "")):
            detail = f"{auto.detail}; null Return-Path, as RFC 3834 asks of responders"
            return Verdict(auto.kind, auto.rule, detail)
        return auto
    if report is not None:  # read receipts and other non-delivery reports
        return report
    notes: list[str] = []
    for rule in (_subject_auto_reply, _exchange_rule):
        verdict = rule(message, headers)
        if verdict is None:
            continue
        if not vetoed:
            return verdict
        notes.append("the subject looks automatic, but Auto-Submitted: no says a person sent it")
        break

    if not vetoed:
        text_ooo = _auto(auto_reply.by_text(body, personal)) or _auto(
            auto_reply.ticket_ack(message, body, personal)
        )
        if text_ooo is not None:
            return text_ooo
    listed = _list(message, headers, context)
    if listed is not None:
        return listed
    if headers.get("x-auto-response-suppress"):
        notes.append(
            f"X-Auto-Response-Suppress: {headers['x-auto-response-suppress']} alone (without an "
            "Exchange inbox-rule loop header) does not make an auto-reply"
        )
    if "x-ms-exchange-inbox-rules-loop" in headers:
        notes.append(
            "X-MS-Exchange-Inbox-Rules-Loop is present, but the subject is a person's reply; "
            "leaning to reply (stopping is the safe side)"
        )
    who = message.from_addr or "an unknown sender"
    claim = _claims_to_be_you(message, context)
    if claim is not None:
        return Verdict("reply", "not-in-sent", "; ".join([f"from {who}", claim, *notes]))
    return Verdict("reply", "default-reply", "; ".join([f"from {who}", *notes]))


# --- out-of-office handling ------------------------------------------------------------------

# What an out-of-office does to a follow-up (User.ooo_policy): hold the next bump until the
# return date when one is stated, only record it, or count it as the reply.
OOO_POLICIES = ("pause", "ignore", "reply")

# auto_reply rules that are not a person's absence notice: a delay warning, a read receipt, a
# delivery receipt, a challenge. The engine pauses or counts only the others (ooo_policy).
NOT_ABSENCE_RULES = frozenset(
    {"dsn-delayed", "dsn-success", "read-receipt", "report", "challenge-response", "ticket-ack"}
)


def is_absence_notice(verdict: Verdict) -> bool:
    """An auto-reply that may say when a person is back (out-of-office, vacation, ack)."""
    return verdict.kind == "auto_reply" and verdict.rule not in NOT_ABSENCE_RULES


# --- who may stop a follow-up -----------------------------------------------------------------

REPLIER_POLICIES = ("anyone", "recipients", "domain")


def replier_allowed(
    message: MessageSummary, original_recipients: frozenset[str], policy: str
) -> bool:
    """Whether a reply from `message.from_addr` counts under the follow-up's replier policy.

    anyone: any reply counts; recipients: only one of the original recipients; domain: anyone
    whose domain equals one of the original recipients' domains.
    """
    if policy not in REPLIER_POLICIES:
        raise ValidationError(
            f"unknown replier policy {policy!r}; choose one of {', '.join(REPLIER_POLICIES)}"
        )
    if policy == "anyone":
        return True
    sender = (message.from_addr or "").strip().lower()
    if not sender:
        return False
    recipients = {r.strip().lower() for r in original_recipients if r and r.strip()}
    if policy == "recipients":
        return sender in recipients
    domain = _domain(sender)
    return bool(domain) and domain in {_domain(r) for r in recipients}
