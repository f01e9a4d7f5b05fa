"""What kind of message arrived in a tracked thread: a person's reply, or something else.

Pure: reads a `MessageSummary` and returns a `Verdict` naming the rule that fired, so every
decision can be written to the event log and explained to the user. Mostly headers; the body's
start (`text`) exists only for delivery reports and possible auto-replies (the mailbox fetches it
for those alone) and is read for what headers cannot say: which recipient failed and why
(RFC 3464 fields, or the wording of qmail/Yahoo/old Gmail bounces), whether a report is only a
delay warning, and whether an auto-reply is a challenge-response request.

Order: own -> bounce (or delay warning) -> challenge-response -> auto_reply -> list -> reply.
The leaning rule throughout: a human reply must never be taken for an auto-reply or a bounce
(either lets the follow-up bump again or fail, so a wrong verdict means nagging or dropping
someone who already answered). Weak signals (Precedence: bulk, List-Unsubscribe, a lone
X-Auto-Response-Suppress or inbox-rule header, a postmaster or null sender) therefore give way
to a message that looks like a person's reply, and the `detail` says why. The price is known and
accepted: an auto-reply with no mark at all but its body (a client-side Outlook rule answering
"RE: ...") is judged a reply. The corpus in tests/fixtures/mail holds examples of each case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message

from watcher.errors import ValidationError
from watcher.mailbox import MessageSummary

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


# --- subject patterns -------------------------------------------------------------------------

# Reply prefixes a person's mail client writes (Re:, AW:, SV:, Antw:, R:, Re[2]:, 回复: ...).
_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|aw|sv|vs|antw|antwort|r|rif|odp|ynt|atb|vá|отв|ответ|відп|απ|回复|回覆|答复)"
    r"\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:\uff1a]",
    re.IGNORECASE,
)

# Delay warnings: a DSN that says "still trying". Anchored at the start so that an NDR whose
# quoted original subject happens to contain "delayed" is not mistaken for one.
_DELAY_SUBJECT = re.compile(
    r"^\s*(?:"
    r"delivery status notification\s*\(delay\)"
    r"|warning:\s*(?:message\b.{0,60}\bdelayed|could not send message for past)"
    r"|delayed mail\b"
    r"|(?:mail\s+)?delivery delayed\b"
    r"|message delayed\b"
    r"|delivery (?:has been )?delayed\b"
    r"|warnung:\s*(?:zustellung|nachricht)\s+verz[öo]gert"
    r"|zustellung verz[öo]gert"
    r")",
    re.IGNORECASE,
)

# Failure subjects: never enough alone (a person may write "Returned mail: ..." on purpose).
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:"
    r"undeliverable\b"
    r"|undelivered mail returned to sender"
    r"|delivery status notification\s*\(failure\)"
    r"|mail delivery failed"
    r"|returned mail\s*:"
    r"|failure notice\b"
    r"|delivery failure\b"
    r"|mail delivery (?:system|subsystem)\b"
    r"|unzustellbar\s*:"
    r"|non remis\s*:"
    r"|no se puede entregar\s*:"
    r"|onbestelbaar\s*:"
    r"|non recapitabile\s*:"
    r")",
    re.IGNORECASE,
)

# Out-of-office / automatic-reply subjects of common vendors and languages: the last resort.
_OOO_SUBJECT = re.compile(
    r"^\s*(?:"
    r"auto(?:matic|matische|matisk|matiskt)?[\s_-]?(?:reply|response|responder|antwort|svar)"
    r"|out\s+of\s+(?:the\s+)?office(?:\s+(?:auto[\s-]?reply|reply))?"
    r"|ooo|oof"
    r"|abwesenheitsnotiz|abwesenheit"
    r"|réponse automatique|reponse automatique|absent\(?e?\)? du bureau"
    r"|respuesta automática|respuesta automatica|fuera de la oficina"
    r"|automatisch antwoord|afwezig"
    r"|resposta automática|resposta automatica|ausente do escritório"
    r"|risposta automatica|fuori sede"
    r"|automatyczna odpowiedź|automatická odpověď|automaattinen vastaus|automatikus válasz"
    r"|otomatik yan\u0131t|автоматический ответ|автоответ"
    r"|自動応答|自動返信|自动回复|自動回覆|自動回复|자동\s*회신|자동\s*응답"
    r"|away from (?:the |my )?office|on (?:annual |parental )?leave|vacation (?:reply|response)"
    r"|(?:i am|i'm) (?:currently )?(?:out of (?:the )?office|away|on vacation)"
    r"|afwezigheidsmelding|afwezig|congés|férias|ausencia|不在(?:のお知らせ|通知)?|休暇"
    r")\s*(?:[:\uff1a]|\s*$|\s*[-\u2013]\s*(?:re\s*:\s*)?)",
    re.IGNORECASE,
)
# RFC 3834 suggests "Auto:"; alone it is too common a word, so only with In-Reply-To.
_AUTO_PREFIX = re.compile(r"^\s*auto\s*:", re.IGNORECASE)
# Lotus Notes / Domino: "Jane Doe is out of the office." (whole subject).
_LOTUS_OOO = re.compile(r"^[^:]{1,80}\bis out of the office\.?\s*(?:\(.*\))?\s*$", re.IGNORECASE)

_BOUNCE_LOCALPARTS = frozenset({"mailer-daemon", "postmaster"})


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


def _local_part(address: str) -> str:
    return address.rpartition("@")[0].lower() if "@" in address else address.lower()


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower() if "@" in address else ""


def _is_null_return_path(value: str) -> bool:
    return re.fullmatch(r"<\s*>", value.strip()) is not None


def _truthy_flag(value: str) -> bool:
    """X-Autoreply and friends: present means yes, unless it plainly says no."""
    return _first_token(value) not in {"no", "false", "0", "off"}


def _looks_like_reply(message: MessageSummary, context: ClassifyContext) -> tuple[bool, str]:
    """A person's reply: a "Re:"-style subject and In-Reply-To into the thread. (ok, why)."""
    if not _REPLY_PREFIX.match(message.subject or ""):
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


# --- what a delivery report says -------------------------------------------------------------

_DSN_LINE = re.compile(
    r"^\s*(final-recipient|original-recipient|action|status|diagnostic-code)\s*:\s*(.+)$",
    re.IGNORECASE | re.MULTILINE,
)
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
# "still trying" wording of delay warnings that do not say so in the subject or DSN fields.
_DELAY_TEXT = re.compile(
    r"this is a warning message only|will (?:continue|keep) (?:to )?try(?:ing)?|"
    r"delivery (?:to the following recipients? )?has been delayed|"
    r"no action is required on your part|you do not need to resend|"
    r"message (?:is )?(?:still )?in the queue|retry for(?: another)? \d+",
    re.IGNORECASE,
)
# Failure wording of non-standard bounces (qmail, Yahoo, old Gmail, Exim) naming the address.
_FAILED_ADDRESS = re.compile(
    r"(?:^<(?P<q>[^>\s]+@[^>\s]+)>:\s*$"  # qmail: "<bob@x>:" alone on a line
    r"|could not be delivered to(?: one or more of)?(?: its)? recipients?[^\n]*\n\s*\n?"
    r"\s*<?(?P<e>[^\s<>]+@[^\s<>:]+)"
    r"|delivery to the following recipients? failed permanently:\s*\n\s*\n?"
    r"\s*(?P<g>[^\s<>]+@[^\s<>]+)"
    r"|your message (?:wasn't|was not|couldn't be|could not be) delivered to "
    r"(?P<x>[^\s<>]+@[^\s<>]+?)[.\s])",
    re.IGNORECASE | re.MULTILINE,
)
_DIAGNOSTIC = re.compile(
    r"(?:^|\s)(?P<d>(?:[45]\d\d[ -])?[45]\.\d{1,3}\.\d{1,3}\b[^\n]{0,160}"
    r"|[45]\d\d [^\n]{0,160}|Sorry,? [^\n]{0,160}|Remote host said: [^\n]{0,160})",
    re.MULTILINE,
)


@dataclass(frozen=True)
class DeliveryReport:
    """What the text of a delivery report says about each recipient."""

    failed: tuple[str, ...] = ()  # addresses whose delivery failed for good
    delayed: tuple[str, ...] = ()  # addresses still being tried
    diagnostic: str = ""  # the first failure's Diagnostic-Code / SMTP answer / explanation
    has_fields: bool = False  # RFC 3464 per-recipient fields were found


def delivery_report(message: MessageSummary) -> DeliveryReport:
    """Read the failed and delayed recipients and the diagnostic from a report's text.

    RFC 3464 fields come first (the mailbox renders message/delivery-status as "Name: value"
    lines at the start of `text`); the wording of non-standard bounces (qmail, Yahoo, the old
    Gmail text/plain DSN, Exim) and X-Failed-Recipients fill in where there are none.
    """
    text = message.text or ""
    failed: list[str] = []
    delayed: list[str] = []
    diagnostic = ""
    recipient = ""
    status = ""
    has_fields = False
    for name, value in _DSN_LINE.findall(text):
        name, value = name.lower(), value.strip()
        if name in ("final-recipient", "original-recipient"):
            if name == "final-recipient" or not recipient:
                found = _ADDRESS.search(value.split(";", 1)[-1])
                recipient = found.group(0).lower() if found else recipient
            has_fields = True
        elif name == "action":
            action = value.split()[0].lower() if value.split() else ""
            if action == "failed" and recipient:
                failed.append(recipient)
            elif action == "delayed" and recipient:
                delayed.append(recipient)
        elif name == "diagnostic-code" and not diagnostic:
            diagnostic = value.split(";", 1)[-1].strip()
        elif name == "status" and not status and value.startswith("5"):
            status = f"status {value}"
    diagnostic = diagnostic or status
    if not has_fields:
        for match in _FAILED_ADDRESS.finditer(text):
            address = next(g for g in match.groups() if g)
            failed.append(address.strip(".,;").lower())
            if match.group("q") and not diagnostic:  # qmail: the reason is the next line
                following = text[match.end() :].strip().split("\n", 1)[0]
                diagnostic = following.strip()
        header = message.headers.get("x-failed-recipients") or message.headers.get(
            "X-Failed-Recipients", ""
        )
        failed.extend(a.lower() for a in _ADDRESS.findall(header))
        found = _DIAGNOSTIC.search(text)
        if found and not diagnostic:
            diagnostic = found.group("d").strip()
    diagnostic = " ".join(diagnostic.split())[:200]
    return DeliveryReport(
        tuple(dict.fromkeys(failed)), tuple(dict.fromkeys(delayed)), diagnostic, has_fields
    )


def _failure_detail(report: DeliveryReport, why: str) -> str:
    parts = []
    if report.failed:
        parts.append(f"undeliverable to {', '.join(report.failed)}")
    if report.diagnostic:
        parts.append(report.diagnostic)
    parts.append(why)
    return ": ".join(parts[:-1]) + f" ({parts[-1]})" if len(parts) > 1 else parts[0]


def _bounce(
    message: MessageSummary,
    headers: dict[str, str],
    auto: Verdict | None,
    context: ClassifyContext,
) -> Verdict | None:
    subject = (message.subject or "").strip()
    signals: list[Verdict] = []
    report = _report(headers)
    if report is not None and report.kind == "bounce":
        signals.append(report)
    if "x-ms-exchange-message-is-ndr" in headers:
        signals.append(Verdict("bounce", "exchange-ndr", "X-MS-Exchange-Message-Is-Ndr present"))
    if headers.get("x-failed-recipients"):
        failed = headers["x-failed-recipients"]
        signals.append(Verdict("bounce", "x-failed-recipients", f"X-Failed-Recipients: {failed}"))
    local = _local_part(message.from_addr or "")
    daemon = local in _BOUNCE_LOCALPARTS
    if daemon:
        signals.append(Verdict("bounce", "mailer-daemon", f"sent by {message.from_addr}"))
    null_rp = _is_null_return_path(headers.get("return-path", ""))
    subject_hit = bool(_BOUNCE_SUBJECT.match(subject))
    info = delivery_report(message)

    if not signals and null_rp:
        if auto is not None:
            # RFC 3834 asks auto-responders (e.g. Sieve vacation) to send with a null sender too.
            return None
        personal, why = _looks_like_reply(message, context)
        if personal and not subject_hit and not info.failed:
            return None  # a person's reply relayed with a null sender: let the reply rule see it
        signals.append(Verdict("bounce", "null-return-path", "Return-Path: <> (null sender)"))
    if not signals and subject_hit and auto is not None:
        # A failure subject on its own is not enough; with an automation header it is.
        signals.append(
            Verdict("bounce", "bounce-subject", f"subject {subject!r} with {auto.detail}")
        )
    if not signals:
        return None

    first = signals[0]
    if (
        first.rule == "mailer-daemon"
        and len(signals) == 1
        and not subject_hit
        and not info.failed
        and not info.delayed
        and not _DELAY_SUBJECT.match(subject)
    ):
        personal, why = _looks_like_reply(message, context)
        if personal:
            return Verdict(
                "reply",
                "reply-from-postmaster",
                f"sent from {message.from_addr}, but nothing in it reports a failed delivery "
                f"and {why}: a postmaster writing back is a person",
            )
    if info.delayed and not info.failed:
        return Verdict(
            "auto_reply",
            "dsn-delayed",
            f"delivery delay warning, not a failure: still trying {', '.join(info.delayed)} "
            f"({first.detail})",
        )
    if not info.failed and (_DELAY_SUBJECT.match(subject) or _DELAY_TEXT.search(message.text)):
        what = f"subject {subject!r}" if _DELAY_SUBJECT.match(subject) else "its text"
        return Verdict(
            "auto_reply",
            "dsn-delayed",
            f"delivery delay warning, not a failure: {what} ({first.detail})",
        )
    if info.has_fields and not info.failed and not info.delayed:
        return Verdict(
            "auto_reply",
            "dsn-success",
            f"delivery status report without a failure (relayed/delivered) ({first.detail})",
        )
    why = first.detail
    if subject_hit and first.rule != "bounce-subject":
        why = f"{why}; subject {subject!r}"
    return Verdict("bounce", first.rule, _failure_detail(info, why))


# Challenge-response ("please verify you are human") systems: vendor markers are enough;
# the wording alone only with an automation header, since a person may write "please verify".
_CHALLENGE_VENDOR = re.compile(
    r"spam ?arrest|boxbe|mailchannels|sender ?verification|\bchallenge[- ]response\b|"
    r"guest list|verificación de remitente|absenderbestätigung|absenderverifizierung",
    re.IGNORECASE,
)
_CHALLENGE_WORDS = re.compile(
    r"please (?:verify|confirm) (?:that )?(?:you|your (?:e-?mail|address|message))|"
    r"verify (?:your|that you are)|confirm (?:that )?you are (?:a )?(?:human|real person)|"
    r"awaiting (?:your )?(?:verification|confirmation)|bitte bestätigen sie",
    re.IGNORECASE,
)
_CHALLENGE_DOMAINS = ("spamarrest.com", "boxbe.com", "choicemail.com", "mailchannels.net")


def _challenge(message: MessageSummary, auto: Verdict | None) -> Verdict | None:
    subject = message.subject or ""
    sender_domain = _domain(message.from_addr or "")
    if any(sender_domain == d or sender_domain.endswith("." + d) for d in _CHALLENGE_DOMAINS):
        return Verdict(
            "auto_reply", "challenge-response", f"challenge-response system {sender_domain}"
        )
    vendor = _CHALLENGE_VENDOR.search(subject)
    if vendor:
        return Verdict(
            "auto_reply",
            "challenge-response",
            f"challenge-response request: subject {subject!r}",
        )
    if auto is not None and (
        _CHALLENGE_WORDS.search(subject) or _CHALLENGE_WORDS.search(message.text or "")
    ):
        return Verdict(
            "auto_reply",
            "challenge-response",
            f"challenge-response request ({auto.detail}) asking you to verify yourself",
        )
    return None


def looks_like_auto_reply_subject(subject: str) -> bool:
    """An out-of-office / automatic-reply subject (any vendor or language we know)."""
    subject = (subject or "").strip()
    if not subject or _REPLY_PREFIX.match(subject):
        return False
    patterns = (_OOO_SUBJECT, _LOTUS_OOO, _AUTO_PREFIX)
    return any(p.match(subject) for p in patterns)


def _subject_auto_reply(message: MessageSummary, headers: dict[str, str]) -> Verdict | None:
    subject = (message.subject or "").strip()
    if not subject or _REPLY_PREFIX.match(subject):
        return None  # "Re: out of office tomorrow?" is a person writing back
    if _OOO_SUBJECT.match(subject) or _LOTUS_OOO.match(subject):
        detail = f"subject {subject!r}"
    elif _AUTO_PREFIX.match(subject) and message.in_reply_to:
        detail = f"subject {subject!r} with In-Reply-To"
    else:
        return None
    if headers.get("x-auto-response-suppress"):
        detail += f"; X-Auto-Response-Suppress: {headers['x-auto-response-suppress']}"
    return Verdict("auto_reply", "ooo-subject", detail)


def _exchange_rule(message: MessageSummary, headers: dict[str, str]) -> Verdict | None:
    """A message an Exchange inbox rule wrote (rule-based auto-replies carry no other mark)."""
    loop = headers.get("x-ms-exchange-inbox-rules-loop")
    if loop is None:
        return None
    if _REPLY_PREFIX.match(message.subject or ""):
        return None  # "RE: ..." with only the loop header: the leaning rule decides (reply)
    return Verdict(
        "auto_reply",
        "exchange-inbox-rule",
        f"written by an Exchange inbox rule (X-MS-Exchange-Inbox-Rules-Loop: {loop}), "
        f"subject {message.subject!r}",
    )


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

    bounce = _bounce(message, headers, auto, context)
    if bounce is not None:
        return bounce

    challenge = _challenge(message, auto)
    if challenge is not None:
        return challenge
    if auto is not None:
        if _is_null_return_path(headers.get("return-path", "")):
            detail = f"{auto.detail}; null Return-Path, as RFC 3834 asks of responders"
            return Verdict(auto.kind, auto.rule, detail)
        return auto
    report = _report(headers)
    if report is not None:  # read receipts and other non-delivery reports
        return report
    notes: list[str] = []
    vetoed = _first_token(headers.get("auto-submitted", "")) == "no"
    for rule in (_subject_auto_reply, _exchange_rule):
        verdict = rule(message, headers)
        if verdict is None:
            continue
        if not vetoed:
            return verdict
        notes.append("the subject looks automatic, but Auto-Submitted: no says a person sent it")
        break

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
    {"dsn-delayed", "dsn-success", "read-receipt", "report", "challenge-response"}
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
