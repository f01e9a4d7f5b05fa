"""Automatic replies known by their subject or their text: the rules after the headers.

Pure helpers of watcher/classify.py. Each returns `(rule, detail)` for an auto-reply verdict,
or None; classify decides the order and wraps the result. The wording lives in
watcher/wording.py, the reading of the body in watcher/body_signals.py.

The safe side throughout: a subject that starts with a person's reply prefix ("Re:", "AW:",
also behind a gateway tag such as "[EXTERNAL] RE:") is never taken for an auto-reply by its
subject, and a text judged alone must read like a template, not like a person mentioning
their holiday.
"""

from __future__ import annotations

from watcher import wording
from watcher.body_signals import BodySignals
from watcher.mailbox import MessageSummary

Found = tuple[str, str]  # (rule, detail)

_CHALLENGE_DOMAINS = ("spamarrest.com", "boxbe.com", "choicemail.com", "mailchannels.net")


def at_start(pattern, subject: str) -> bool:
    """`pattern` at the start of the subject, or after gateway tags ("[EXT] ...")."""
    stripped = wording.SUBJECT_TAG.sub("", subject, count=1)
    return bool(pattern.match(subject) or (stripped != subject and pattern.match(stripped)))


def is_reply_subject(subject: str) -> bool:
    """A person's reply prefix, at the start or behind gateway tags ("[EXTERNAL] RE: ...")."""
    return at_start(wording.REPLY_PREFIX, (subject or "").strip())


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower() if "@" in address else ""


def challenge(message: MessageSummary, auto_detail: str | None, body: BodySignals) -> Found | None:
    """A challenge-response request ("please verify you are a human")."""
    subject = message.subject or ""
    sender_domain = _domain(message.from_addr or "")
    if any(sender_domain == d or sender_domain.endswith("." + d) for d in _CHALLENGE_DOMAINS):
        return "challenge-response", f"challenge-response system {sender_domain}"
    if wording.CHALLENGE_VENDOR.search(subject):
        return "challenge-response", f"challenge-response request: subject {subject!r}"
    if not (wording.CHALLENGE_WORDS.search(subject) or body.challenge):
        return None
    if auto_detail is not None:
        why = auto_detail
    elif wording.system_sender(message.from_addr or "", message.from_name or ""):
        why = f"sent by {message.from_addr}"
    elif wording.CHALLENGE_VENDOR.search(body.own) and not is_reply_subject(subject):
        why = "its text names a sender-verification service"
    else:
        return None  # a person may well write "please confirm your address"
    return "challenge-response", f"challenge-response request ({why}) asking you to verify yourself"


def subject_form(subject: str) -> str:
    """Which auto-reply subject form `subject` has ("" if none); a reply prefix rules out all."""
    subject = (subject or "").strip()
    if not subject or is_reply_subject(subject):
        return ""  # "Re: out of office tomorrow?" is a person writing back
    if at_start(wording.OOO_SUBJECT, subject) or at_start(wording.LOTUS_OOO, subject):
        return "subject"
    if wording.BRACKETED_AUTO.search(subject):
        return "bracketed marker in the subject"
    return ""


def looks_like_auto_reply_subject(subject: str) -> bool:
    """An out-of-office / automatic-reply subject (any vendor or language we know)."""
    return bool(subject_form(subject)) or bool(wording.AUTO_PREFIX.match((subject or "").strip()))


def by_subject(message: MessageSummary, headers: dict[str, str]) -> Found | None:
    subject = (message.subject or "").strip()
    form = subject_form(subject)
    if form:
        detail = f"{form} {subject!r}" if form != "subject" else f"subject {subject!r}"
    elif wording.AUTO_PREFIX.match(subject) and message.in_reply_to:
        detail = f"subject {subject!r} with In-Reply-To"  # RFC 3834's "Auto:"
    else:
        return None
    if headers.get("x-auto-response-suppress"):
        detail += f"; X-Auto-Response-Suppress: {headers['x-auto-response-suppress']}"
    return "ooo-subject", detail


def by_text(body: BodySignals, personal: bool) -> Found | None:
    """An absence notice known by its text alone (no header, no subject mark): vendor forms.

    A template says it is away *and* uses two of the phrases only templates use ("limited
    access to email", "for urgent matters", "on my return") or says it is automatic; a person
    mentioning their absence rarely does. Under a person's "Re:" subject answering the thread,
    it must say that it is automatic.
    """
    if not body.absence:
        # Without "I am away" it is no absence notice; a ticket system's "this is an
        # automated notification" footer under an agent's answer must not make it one.
        return None
    strong = len(body.template) >= 2 or body.self_declared
    # Under a person's "Re:" it must say it is automatic, or read as a full template (three
    # distinct template phrases: a person's own note rarely has more than one).
    if not strong or (personal and not body.self_declared and len(body.template) < 3):
        return None
    said = [body.absence] if body.absence else []
    said += list(body.template[:2])
    return "ooo-text", "its text reads as an absence notice: " + "; ".join(repr(s) for s in said)


def ticket_ack(message: MessageSummary, body: BodySignals, personal: bool) -> Found | None:
    """A help desk's automatic acknowledgement ("we have received your request #4821"),
    with no header: ack wording and a ticket number, under a subject that is no reply."""
    if personal or is_reply_subject(message.subject or ""):
        return None  # an agent answering in the thread
    ack = wording.ACK_TEXT.search(body.own)
    ref = wording.TICKET_REF.search(message.subject or "") or wording.TICKET_REF.search(body.own)
    if ack is None or ref is None:
        return None
    return "ticket-ack", f"a help desk's acknowledgement: {ack.group(0)!r}, {ref.group(0)!r}"


def absence_marks(message: MessageSummary, body: BodySignals) -> bool:
    """Something besides the headers says "automatic reply": the subject or the text."""
    return bool(subject_form(message.subject)) or by_text(body, False) is not None


def exchange_rule(message: MessageSummary, headers: dict[str, str]) -> Found | None:
    """A message an Exchange inbox rule wrote (rule-based auto-replies carry no other mark)."""
    loop = headers.get("x-ms-exchange-inbox-rules-loop")
    if loop is None:
        return None
    if is_reply_subject(message.subject or ""):
        return None  # "RE: ..." with only the loop header: the leaning rule decides (reply)
    return (
        "exchange-inbox-rule",
        f"written by an Exchange inbox rule (X-MS-Exchange-Inbox-Rules-Loop: {loop}), "
        f"subject {message.subject!r}",
    )
