"""Pure header parsing: raw header fields -> MessageSummary. Shared by every Mailbox.

No I/O. Tolerant by design: mail in the wild has malformed dates, broken encoded-words and
8-bit bytes in headers; a field that cannot be read becomes empty instead of failing the pass.
"""

from __future__ import annotations

import email.errors
import email.header
import email.parser
import email.policy
import email.utils
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from watcher import wording
from watcher.auto_reply import looks_like_auto_reply_subject
from watcher.mailbox import CLASSIFY_HEADERS, TEXT_LIMIT, MessageSummary

MSGID_RE = re.compile(r"<[^<>\s]+>")

# What a mailbox fetches of a message (upper-case, as IMAP HEADER.FIELDS wants them).
SUMMARY_FIELDS: tuple[str, ...] = (
    "MESSAGE-ID",
    "IN-REPLY-TO",
    "REFERENCES",
    "FROM",
    "TO",
    "CC",
    "DATE",
    "SUBJECT",
    "BCC",  # on the user's own Sent copies: a Bcc to me+2w@… is a trigger
    "DELIVERED-TO",  # where an inbox copy was delivered (the plus-address it came in by)
    "X-ORIGINAL-TO",
    *(h.upper() for h in CLASSIFY_HEADERS),
)

HeaderInput = bytes | str | Iterable[tuple[str, str]]


def header_pairs(raw: HeaderInput) -> list[tuple[str, str]]:
    """(name, raw value) pairs, unfolded, in order; accepts header bytes/text or pairs."""
    if isinstance(raw, bytes | bytearray):
        raw = bytes(raw).decode("utf-8", errors="replace")
    if isinstance(raw, str):
        parsed = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(raw)
        pairs = [(k, v if isinstance(v, str) else str(v)) for k, v in parsed.items()]
    else:
        pairs = [(str(k), str(v)) for k, v in raw]
    return [(k.strip(), _unfold(v)) for k, v in pairs]


def decode(value: str) -> str:
    """Decode RFC 2047 encoded-words; undecodable input comes back as it was."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return value


def message_ids(value: str) -> tuple[str, ...]:
    """Every "<...>" id in a field, in order, without repeats."""
    return tuple(dict.fromkeys(MSGID_RE.findall(value or "")))


def parse_date(value: str | None) -> datetime | None:
    """A Date field as aware UTC; None if missing or unreadable. "-0000" counts as UTC."""
    if not value:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def date_offset_minutes(value: str | None) -> int | None:
    """The UTC offset a Date field was written with, in minutes; None if there is none to
    trust (missing, unreadable, obsolete zone names read as naive, or "-0000": zone unknown)."""
    if not value:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None or dt.tzinfo is None:
        return None
    offset = dt.utcoffset()
    if offset is None:
        return None
    minutes = int(offset.total_seconds() // 60)
    return minutes if -14 * 60 <= minutes <= 14 * 60 else None


def addresses(values: Iterable[str]) -> list[tuple[str, str]]:
    """(decoded display name, lower-case bare address) for every address in the fields."""
    out = []
    for name, addr in email.utils.getaddresses(list(values)):
        addr = addr.strip().lower()
        if addr:
            out.append((decode(name).strip(), addr))
    return out


def summarize(
    ref: str,
    header_bytes_or_pairs: HeaderInput,
    *,
    thread_ref: str | None = None,
    in_sent: bool = False,
) -> MessageSummary:
    """Build the MessageSummary of one message from its header fields."""
    fields: dict[str, list[str]] = {}
    for name, value in header_pairs(header_bytes_or_pairs):
        fields.setdefault(name.lower(), []).append(value)

    def first(name: str) -> str:
        values = fields.get(name)
        return values[0] if values else ""

    msgid = message_ids(first("message-id"))
    sender = addresses(fields.get("from", []))
    names: dict[str, str] = {}
    for field in ("from", "to", "cc"):
        for name, addr in addresses(fields.get(field, [])):
            if name and addr not in names:
                names[addr] = name
    from_name, from_addr = sender[0] if sender else ("", "")
    references: list[str] = []
    for value in fields.get("references", []):
        references.extend(message_ids(value))
    return MessageSummary(
        ref=ref,
        message_id=msgid[0] if msgid else "",
        subject=decode(first("subject")).strip(),
        from_addr=from_addr,
        from_name=from_name,
        to=tuple(dict.fromkeys(a for _, a in addresses(fields.get("to", [])))),
        cc=tuple(dict.fromkeys(a for _, a in addresses(fields.get("cc", [])))),
        bcc=tuple(dict.fromkeys(a for _, a in addresses(fields.get("bcc", [])))),
        delivered_to=tuple(
            dict.fromkeys(
                a
                for _, a in addresses(
                    [*fields.get("delivered-to", []), *fields.get("x-original-to", [])]
                )
            )
        ),
        date=parse_date(first("date")),
        date_offset_minutes=date_offset_minutes(first("date")),
        in_reply_to=message_ids(" ".join(fields.get("in-reply-to", []))),
        references=tuple(dict.fromkeys(references)),
        thread_ref=thread_ref,
        in_sent=in_sent,
        headers={
            name: decode(fields[name][0]).strip() for name in CLASSIFY_HEADERS if name in fields
        },
        names=names,
    )


BUMP_TAG = "bump"  # a draft addressed to me+bump@… is a bump text (the plus-address marker)


def is_bump_marked(summary: MessageSummary, own_addresses: Iterable[str]) -> bool:
    """Does To/Cc/Bcc name one of the user's own addresses with "+bump" (me+bump@domain)?"""
    wanted = set()
    for address in own_addresses:
        local, at, domain = address.strip().lower().partition("@")
        if at:
            wanted.add(f"{local.split('+', 1)[0]}+{BUMP_TAG}@{domain}")
    return any(a in wanted for a in (*summary.to, *summary.cc, *summary.bcc))


def is_marked_draft(summary: MessageSummary, own_addresses: Iterable[str]) -> bool:
    """A draft the watcher reads: bump text (me+bump@…) or send later (me+later-…@…)."""
    if is_bump_marked(summary, own_addresses):
        return True
    bases = set()
    for address in own_addresses:
        local, at, domain = address.strip().lower().partition("@")
        if at:
            bases.add((local.split("+", 1)[0], domain))
    for address in (*summary.to, *summary.cc, *summary.bcc):
        local, _, domain = address.partition("@")
        base, plus, tag = local.partition("+")
        if plus and (base, domain) in bases and (tag == "later" or tag.startswith("later-")):
            return True
    return False


def has_delivery_trace(summary: MessageSummary) -> bool:
    """Did a mail server deliver this message (it came in), rather than the user's client
    save it? RFC 5321 4.4: the server that makes the final delivery inserts Return-Path, and
    delivery agents add Delivered-To / X-Original-To (Dovecot LMTP and LDA, Postfix local and
    virtual). A sender cannot keep them off, and a client saving to Sent does not write them."""
    return bool(summary.delivered_to) or "return-path" in summary.headers


def may_be_report(summary: MessageSummary) -> bool:
    """Worth reading the body for the id of the message it reports on (a bounce, a DSN)?

    Also a plain notice under a failure or delay subject, and a multipart/mixed one from a
    sender that looks like software: without the original's id (attached, or pasted as a
    "Message-ID:" line) such a bounce never joins its thread (it rarely has In-Reply-To).
    """
    local = summary.from_addr.split("@", 1)[0]
    ctype = summary.headers.get("content-type", "").lower()
    subject = summary.subject or ""
    return (
        "multipart/report" in ctype
        or "x-failed-recipients" in summary.headers
        or local in ("mailer-daemon", "postmaster", "mail-daemon")
        or bool(wording.BOUNCE_SUBJECT.search(subject))
        or bool(wording.DELAY_SUBJECT.search(subject))
        or (
            "multipart/mixed" in ctype
            and wording.system_sender(summary.from_addr, summary.from_name)
        )
    )


_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|autoreply|out of (the )?office|ooo\b|oof\b|"
    r"abwesen|absence|r[ée]ponse automatique|respuesta autom|automatisch antwoord|"
    r"resposta autom|自動応答|vacation|away)",
    re.IGNORECASE,
)


def may_be_auto_reply(summary: MessageSummary) -> bool:
    """Worth reading the start of the body (for an out-of-office's return date)?

    Deliberately broad: a false positive costs one small fetch, a miss loses the return date.
    """
    h = summary.headers
    return (
        h.get("auto-submitted", "no").split(";")[0].strip().lower() != "no"
        or any(k in h for k in ("x-autoreply", "x-autorespond", "x-autoresponder"))
        or "x-ms-exchange-inbox-rules-loop" in h
        or "auto" in h.get("precedence", "").lower()
        or bool(_AUTO_SUBJECT.match(summary.subject))
        or looks_like_auto_reply_subject(summary.subject)
    )


_INLINE_MSGID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


def reported_message_ids(raw: bytes) -> tuple[str, ...]:
    """Message-IDs of the original message inside a delivery report.

    RFC 3464 puts the original (or its headers) in a message/rfc822 or text/rfc822-headers
    part; qmail and others paste it into the text, so a "Message-ID:" line there counts too.
    """
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)
    own = set(message_ids(msg.get("Message-ID", "")))
    found: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if inner is not None:
                found.extend(message_ids(inner.get("Message-ID", "")))
        elif ctype in ("text/rfc822-headers", "text/plain"):
            text = part.get_payload(decode=True) or b""
            found.extend(_INLINE_MSGID.findall(text.decode("utf-8", errors="replace")))
    return tuple(m for m in dict.fromkeys(found) if m not in own)


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value).strip("\r\n")


_DSN_FIELDS = ("final-recipient", "original-recipient", "action", "status", "diagnostic-code")


def body_text(raw: bytes, limit: int = TEXT_LIMIT) -> str:
    """The start of a message's readable text, for `MessageSummary.text`; "" if none.

    `raw` is the message or its first bytes (a partial fetch): a cut-off last part is read as
    far as it goes. For a delivery report the per-recipient fields of its message/delivery-status
    part come first (Final-Recipient, Action, Status, Diagnostic-Code), then the human part, so
    the cap never cuts them off. Otherwise the first text/plain part, or the first text/html
    part with its tags removed. Charset and transfer encoding are decoded.
    """
    try:
        msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)
    except Exception:  # a broken message has no readable text, never a failed pass
        return ""
    status: list[str] = []
    plain: str | None = None
    html: str | None = None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            status.extend(_delivery_status_lines(part))
        elif ctype == "message/rfc822":
            break  # the returned original: not the report's own text (walk order is depth-first)
        elif ctype == "text/plain" and plain is None and not _is_attachment(part):
            plain = _decoded(part)
        elif ctype == "text/plain" and not _is_attachment(part):
            # Some gateways put the delivery-status fields in a later text/plain part.
            status.extend(_pasted_status_lines(_decoded(part)))
        elif ctype == "text/html" and html is None and not _is_attachment(part):
            html = _decoded(part)
    text = plain if plain is not None else _html_to_text(html or "")
    text = "\n".join([*status, "", text] if status else [text]).strip()
    return text[:limit]


def _is_attachment(part) -> bool:
    return (part.get("Content-Disposition") or "").strip().lower().startswith("attachment")


def _decoded(part) -> str:
    try:
        data = part.get_payload(decode=True) or b""
    except Exception:
        return ""
    if not isinstance(data, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace").replace("\r\n", "\n")
    except LookupError:
        return data.decode("utf-8", errors="replace").replace("\r\n", "\n")


_PASTED_FIELD = re.compile(
    r"^\s*(?:final-recipient|original-recipient|action|status|diagnostic-code)\s*:", re.I
)


def _pasted_status_lines(text: str) -> list[str]:
    """The delivery-status field lines of a text part (blank lines kept: they end a record)."""
    if not any(_PASTED_FIELD.match(line) for line in text.splitlines()):
        return []
    return [line.strip() if _PASTED_FIELD.match(line) else "" for line in text.splitlines()]


def _delivery_status_lines(part) -> list[str]:
    """ "Name: value" lines of the per-recipient blocks of a message/delivery-status part."""
    blocks = part.get_payload()
    if isinstance(blocks, str):  # unparsed (e.g. cut off): read it as header blocks ourselves
        blocks = [
            email.parser.HeaderParser(policy=email.policy.compat32).parsestr(chunk)
            for chunk in re.split(r"\r?\n\s*\r?\n", blocks)
        ]
    lines = []
    for block in blocks or []:
        if lines and lines[-1]:
            lines.append("")  # one record per recipient block
        for name in _DSN_FIELDS:
            value = block.get(name)
            if value:
                lines.append(f"{name.title()}: {_unfold(str(value))}")
    return lines


def _html_to_text(html: str) -> str:
    html = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", html)
    html = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>", "\n", html)
    text = re.sub(r"<[^>]+>", " ", html)
    import html as html_lib

    text = html_lib.unescape(text)
    return "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()
