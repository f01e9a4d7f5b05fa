"""Build the follow-up ("bump") message: pure, no I/O.

A bump is an ordinary reply in the thread, written as a person would write it: In-Reply-To and
References per RFC 5322 so every client threads it, a "Re:" subject so Gmail keeps it in the
thread, and no header that gives automation away (no X-Mailer, no Auto-Submitted). Its Message-ID
is deterministic per (follow-up, stage): that id is what makes a retried send detectable.
"""

from __future__ import annotations

import hashlib
import re
import string
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, formataddr, getaddresses

from watcher.errors import ValidationError
from watcher.mailbox import Bump, MessageSummary

MAX_REFERENCES = 20  # as mail clients do: keep the first id and the last 19

# Leading reply prefixes in the languages mail clients write them: Re:, RE:, Re[2]:, Re(2):,
# Re^2:, AW: (de), SV: (sv/da/no), VS: (fi), Antw: (nl), R:/RIF: (it), Odp: (pl), Ynt: (tr),
# Vá: (hu), Отв:/Ответ: (ru), Відп: (uk), ΑΠ: (el), 回复:/回覆:/答复: (zh).
_REPLY_PREFIXES = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|antwort|r|rif|odp|ynt|atb|vá|отв|ответ|відп|απ|回复|回覆|答复)"
    r"\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:\uff1a]\s*)+",
    re.IGNORECASE,
)

_PLACEHOLDERS = ("first_name", "subject", "name", "sender_name")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")

# Headers holding Message-IDs: folded only between ids, never RFC 2047-encoded (the email package
# would encode an id longer than a line, which breaks threading for every recipient).
_ID_HEADERS = frozenset({"message-id", "in-reply-to", "references"})

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "herr", "frau"})
_ROLE_WORDS = frozenset(
    {
        "info",
        "sales",
        "support",
        "team",
        "hello",
        "contact",
        "admin",
        "office",
        "no",
        "noreply",
        "mail",
        "billing",
        "accounts",
        "hr",
        "jobs",
        "help",
        "service",
    }
)


class _BumpPolicy(EmailPolicy):
    """SMTP policy (CRLF) that folds Message-ID headers at spaces only."""

    def fold(self, name, value):
        if name.lower() in _ID_HEADERS:
            return _fold_ids(name, str(value), self.linesep)
        return super().fold(name, value)

    def fold_binary(self, name, value):
        if name.lower() in _ID_HEADERS:
            return _fold_ids(name, str(value), self.linesep).encode("ascii")
        return super().fold_binary(name, value)


_POLICY = _BumpPolicy(linesep="\r\n")


def _fold_ids(name: str, value: str, linesep: str) -> str:
    lines: list[str] = []
    current = f"{name}:"
    for word in value.split():
        if len(current) + 1 + len(word) > 78 and current != f"{name}:":
            lines.append(current)
            current = f" {word}"
        else:
            current = f"{current} {word}"
    lines.append(current)
    return linesep.join(lines) + linesep


def _clean_id(message_id: str) -> str:
    """One Message-ID as a header may carry it, or "" if it cannot be used."""
    message_id = (message_id or "").strip()
    if not message_id or any(c.isspace() for c in message_id) or not message_id.isascii():
        return ""
    return message_id


def bump_message_id(token: str, stage: int, email: str) -> str:
    """The deterministic Message-ID of stage `stage` of follow-up `token`, sent from `email`."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        raise ValidationError(f"follow-up token {token!r} must be letters, digits, '-' or '_'")
    if isinstance(stage, bool) or not isinstance(stage, int) or stage < 0:
        raise ValidationError(f"stage {stage!r} must be a whole number, 0 or more")
    local, at, domain = (email or "").strip().rpartition("@")
    domain = domain.lower()
    if not at or not local or not re.fullmatch(r"[a-z0-9.-]+", domain) or not domain.isascii():
        raise ValidationError(f"cannot build a Message-ID from the address {email!r}")
    return f"<rw.{token}.{stage}@{domain}>"


def _one_line(text: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", text or "")


def reply_subject(original: str) -> str:
    """ "Re: " + the subject, with any leading reply prefixes (Re:, AW:, SV: ...) collapsed."""
    subject = _one_line(original).strip()
    stripped = _REPLY_PREFIXES.sub("", subject, count=1).strip()
    return f"Re: {stripped}"


def render_text(
    template: str,
    *,
    first_name: str,
    subject: str,
    recipient_name: str = "",
    sender_name: str = "",
) -> str:
    """Fill a bump template.

    Placeholders: {first_name} (falls back to "there"), {subject}, {name} (the recipient's display
    name; falls back to the first name, then "there"), {sender_name}. "{{" and "}}" are literal
    braces. Anything else - an unknown name, attribute or index access, a format spec or
    conversion, a positional "{}" - raises ValidationError: templates are user input.
    """
    first = (first_name or "").strip() or "there"
    values = {
        "first_name": first,
        "subject": _one_line(subject).strip(),
        "name": (recipient_name or "").strip() or first,
        "sender_name": (sender_name or "").strip(),
    }
    allowed = ", ".join("{" + p + "}" for p in _PLACEHOLDERS)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValidationError(
            f"the message template has an unbalanced brace ({exc}); write {{{{ or }}}} "
            f"for a literal brace. Placeholders: {allowed}"
        ) from None
    out: list[str] = []
    for literal, field, spec, conversion in parsed:
        out.append(literal)
        if field is None:
            continue
        if field not in values:
            shown = "{" + field + "}" if field else "{}"
            raise ValidationError(
                f"unknown placeholder {shown} in the message template; use one of {allowed}"
            )
        if spec or conversion:
            raise ValidationError(
                f"placeholder {{{field}}} takes no format or conversion in the message template"
            )
        out.append(values[field])
    return "".join(out)


def first_name_of(display_name: str, address: str) -> str:
    """A first name to greet: "Bob Smith" / "Smith, Bob" / "bob.smith@x" -> "Bob"; else ""."""
    name = _one_line(display_name).strip().strip("\"'").strip()
    if name and "@" not in name:
        if "," in name:
            family, _, given = name.partition(",")
            name = given.strip() or family.strip()
        words = [w for w in name.split() if w.strip(".").lower() not in _HONORIFICS]
        if words:
            word = words[0].strip(".,;:()[]\"'")
            if word and any(ch.isalpha() for ch in word):
                return word.capitalize() if (word.isupper() or word.islower()) else word
    local = (address or "").strip().rpartition("@")[0].split("+", 1)[0]
    parts = [p for p in re.split(r"[._]", local) if p]
    if (
        len(parts) >= 2
        and parts[0].isalpha()
        and len(parts[0]) >= 2
        and parts[0].lower() not in _ROLE_WORDS
    ):
        return parts[0].capitalize()
    return ""


def _format_quote_date(when: datetime) -> str:
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return (
        f"{_DAYS[when.weekday()]}, {when.day} {_MONTHS[when.month - 1]} {when.year} "
        f"at {when:%H:%M} UTC"
    )


def _quote_block(latest: MessageSummary, quote: str) -> str:
    if latest.from_name and latest.from_addr:
        who = f"{latest.from_name} <{latest.from_addr}>"
    else:
        who = latest.from_name or latest.from_addr or "someone"
    if latest.date is not None:
        header = f"On {_format_quote_date(latest.date)}, {who} wrote:"
    else:
        header = f"{who} wrote:"
    lines = quote.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
    quoted = "\n".join(f"> {line}" if line else ">" for line in lines)
    return f"\n\n{header}\n{quoted}"


def _references(parent: MessageSummary) -> list[str]:
    base = parent.references or (parent.in_reply_to[:1] if len(parent.in_reply_to) == 1 else ())
    seen: set[str] = set()
    refs: list[str] = []
    for raw in (*base, parent.message_id):
        mid = _clean_id(raw)
        if mid and mid not in seen:
            seen.add(mid)
            refs.append(mid)
    if len(refs) > MAX_REFERENCES:
        refs = [refs[0], *refs[-(MAX_REFERENCES - 1) :]]
    return refs


def _bare_addresses(values: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for _name, addr in getaddresses(list(values)):
        addr = addr.strip().lower()
        if addr and addr not in out:
            out.append(addr)
    return out


def compose_bump(
    *,
    account_email: str,
    account_name: str,
    original: MessageSummary,
    latest: MessageSummary,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    token: str,
    stage: int,
    text: str,
    now: datetime,
    quote: str | None = None,
) -> Bump:
    """The bump for stage `stage` of follow-up `token`, answering `latest` in the thread."""
    message_id = bump_message_id(token, stage, account_email)
    parent = latest if _clean_id(latest.message_id) else original
    in_reply_to = _clean_id(parent.message_id)
    if not in_reply_to:
        raise ValidationError("cannot thread the follow-up: the message has no Message-ID")
    recipients = tuple(_bare_addresses((*to, *cc)))
    if not recipients:
        raise ValidationError("a follow-up needs at least one recipient")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)

    body = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    if quote:
        body = body.rstrip("\n") + _quote_block(latest, quote)
    if not body.endswith("\n"):
        body += "\n"

    msg = EmailMessage(policy=_POLICY)
    msg["From"] = formataddr((_one_line(account_name).strip(), account_email.strip()))
    if to:
        msg["To"] = ", ".join(_one_line(a).strip() for a in to)
    if cc:
        msg["Cc"] = ", ".join(_one_line(a).strip() for a in cc)
    msg["Subject"] = reply_subject(original.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg["In-Reply-To"] = in_reply_to
    msg["References"] = " ".join(_references(parent))
    # Quoted-printable for non-ASCII text: 7-bit safe on servers without 8BITMIME.
    cte = None if body.isascii() else "quoted-printable"
    msg.set_content(body, subtype="plain", charset="utf-8", cte=cte)
    raw = msg.as_bytes(policy=_POLICY)

    return Bump(
        message_id=message_id,
        sender=account_email.strip(),
        recipients=recipients,
        raw=raw,
        thread_ref=latest.thread_ref or original.thread_ref,
    )


def trigger_help_message_id(message_id: str, address: str, account_email: str) -> str:
    """The deterministic Message-ID of the help email about one malformed plus-address on one
    message: what makes it go out once (find_sent before send)."""
    digest = hashlib.sha256(f"{message_id}\n{address.lower()}".encode()).hexdigest()[:24]
    # The domain as bump ids take it (checked there); not "<rw.…>", which marks bumps.
    domain = bump_message_id("x", 0, account_email).rpartition("@")[2].rstrip(">")
    return f"<rw-help.{digest}@{domain}>"


def compose_trigger_help(
    *,
    account_email: str,
    account_name: str,
    address: str,
    problem: str,
    original: MessageSummary,
    now: datetime,
    forms: str,
) -> Bump:
    """A short plain-text email to the user: the plus-address `address` on `original` could not
    be read (`problem`), so no follow-up was set; here are the valid forms. Sent to the plain
    address, so it triggers nothing itself."""
    local, _, domain = account_email.strip().rpartition("@")
    me = f"{local}+{{tag}}@{domain}"
    examples = [
        ("3d", "a bump after 3 days (also 2w weeks, 5bd business days, 12h hours)"),
        ("fri", "next Friday at the start of your sending window (mon … sun, or tomorrow)"),
        ("3d-1w", "a bump after 3 days, then one a week after that (at most 5)"),
        ("2w-remind", "after 2 weeks bring the thread back to you; nobody is mailed"),
    ]
    width = max(len(me.format(tag=t)) for t, _ in examples)
    lines = [f"  {me.format(tag=t):<{width}}  {what}" for t, what in examples]
    subject = _one_line(original.subject).strip() or "(no subject)"
    sent = f" (sent {_format_quote_date(original.date)})" if original.date else ""
    body = (
        f"Replywatch could not read the follow-up address {address} on your message "
        f'"{subject}"{sent}:\n\n  {_one_line(problem)}\n\n'
        "No follow-up was set for that message. Put one of these in Bcc or Cc instead:\n\n"
        + "\n".join(lines)
        + f"\n\nIn full: {_one_line(forms)}.\n"
    )
    message_id = trigger_help_message_id(original.message_id, address, account_email)
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = formataddr((_one_line(account_name).strip() or "Replywatch", account_email))
    msg["To"] = account_email.strip()
    msg["Subject"] = f"Replywatch: no follow-up set for {_one_line(address)}"
    msg["Date"] = format_datetime(now if now.tzinfo else now.replace(tzinfo=UTC))
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-reply answers it
    cte = None if body.isascii() else "quoted-printable"
    msg.set_content(body, subtype="plain", charset="utf-8", cte=cte)
    return Bump(
        message_id=message_id,
        sender=account_email.strip(),
        recipients=(account_email.strip().lower(),),
        raw=msg.as_bytes(policy=_POLICY),
    )
