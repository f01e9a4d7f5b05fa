"""What kind of message arrived in a tracked thread: a person's reply, or something else.

Pure: reads a `MessageSummary` (headers only, no body) and returns a `Verdict` naming the rule
that fired, so every decision can be written to the event log and explained to the user.

Order: own -> bounce -> auto_reply -> list -> reply. The leaning rule throughout: a human reply
must never be taken for an auto-reply (an auto-reply lets the follow-up bump again, so a wrong
"auto_reply" means nagging someone who already answered). Weak signals therefore give way to a
message that clearly looks like a person's reply, and the `detail` says why when signals conflict.
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
    r"|自動応答|自动回复|自動回覆|自動回复|자동\s*회신|자동\s*응답"
    r")\s*[:\uff1a]",
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


# --- the classifier ---------------------------------------------------------------------------


def _own(message: MessageSummary, context: ClassifyContext) -> Verdict | None:
    if message.message_id and message.message_id in context.own_message_ids:
        return Verdict("own", "own-bump", f"a follow-up Replywatch sent ({message.message_id})")
    sender = (message.from_addr or "").strip().lower()
    own = {a.strip().lower() for a in context.own_addresses}
    if sender and sender in own:
        return Verdict("own", "own-address", f"from your address {sender}")
    if message.in_sent:
        return Verdict("own", "sent-folder", "found among your sent mail")
    return None


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


def _bounce(
    message: MessageSummary, headers: dict[str, str], auto: Verdict | None
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
    if local in _BOUNCE_LOCALPARTS:
        signals.append(Verdict("bounce", "mailer-daemon", f"sent by {message.from_addr}"))
    null_rp = _is_null_return_path(headers.get("return-path", ""))
    subject_hit = bool(_BOUNCE_SUBJECT.match(subject))

    if not signals and null_rp:
        if auto is not None:
            # RFC 3834 asks auto-responders (e.g. Sieve vacation) to send with a null sender too.
            return None
        signals.append(Verdict("bounce", "null-return-path", "Return-Path: <> (null sender)"))
    if not signals and subject_hit and auto is not None:
        # A failure subject on its own is not enough; with an automation header it is.
        signals.append(
            Verdict("bounce", "bounce-subject", f"subject {subject!r} with {auto.detail}")
        )
    if not signals:
        return None

    first = signals[0]
    if _DELAY_SUBJECT.match(subject):
        return Verdict(
            "auto_reply",
            "dsn-delayed",
            f"delivery delay warning, not a failure: subject {subject!r} ({first.detail})",
        )
    detail = first.detail
    if subject_hit and first.rule != "bounce-subject":
        detail = f"{detail}; subject {subject!r}"
    return Verdict("bounce", first.rule, detail)


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


def _list(
    message: MessageSummary, headers: dict[str, str], context: ClassifyContext
) -> Verdict | None:
    if headers.get("list-id"):
        return Verdict("list", "list-id", f"List-Id: {headers['list-id']}")
    precedence = _first_token(headers.get("precedence", ""))
    if precedence == "list":
        return Verdict("list", "precedence-list", "Precedence: list")
    weak: Verdict | None = None
    if precedence in {"bulk", "junk"}:
        weak = Verdict("list", "precedence-list", f"Precedence: {precedence}")
    elif "list-unsubscribe" in headers:
        weak = Verdict("list", "list-unsubscribe", "List-Unsubscribe present")
    if weak is None:
        return None
    personal, why = _looks_like_reply(message, context)
    if personal:
        return Verdict(
            "reply",
            "reply-despite-precedence",
            f"{weak.detail} (often added by mail gateways), but {why}",
        )
    return weak


def classify(message: MessageSummary, context: ClassifyContext) -> Verdict:
    """Name what `message` is for the follow-up whose thread it arrived in."""
    own = _own(message, context)
    if own is not None:
        return own
    headers = _norm_headers(message.headers)
    auto = _auto_reply_signal(headers)

    bounce = _bounce(message, headers, auto)
    if bounce is not None:
        return bounce

    if auto is not None:
        if _is_null_return_path(headers.get("return-path", "")):
            detail = f"{auto.detail}; null Return-Path, as RFC 3834 asks of responders"
            return Verdict(auto.kind, auto.rule, detail)
        return auto
    report = _report(headers)
    if report is not None:  # read receipts and other non-delivery reports
        return report
    notes: list[str] = []
    subject_auto = _subject_auto_reply(message, headers)
    if subject_auto is not None:
        if _first_token(headers.get("auto-submitted", "")) != "no":
            return subject_auto
        notes.append("the subject looks automatic, but Auto-Submitted: no says a person sent it")

    listed = _list(message, headers, context)
    if listed is not None:
        return listed
    if headers.get("x-auto-response-suppress"):
        notes.append(
            f"X-Auto-Response-Suppress: {headers['x-auto-response-suppress']} alone (without an "
            "Exchange inbox-rule loop header) does not make an auto-reply"
        )
    who = message.from_addr or "an unknown sender"
    return Verdict("reply", "default-reply", "; ".join([f"from {who}", *notes]))


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
