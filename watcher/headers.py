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

from watcher.mailbox import CLASSIFY_HEADERS, MessageSummary

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
        date=parse_date(first("date")),
        in_reply_to=message_ids(" ".join(fields.get("in-reply-to", []))),
        references=tuple(dict.fromkeys(references)),
        thread_ref=thread_ref,
        in_sent=in_sent,
        headers={
            name: decode(fields[name][0]).strip() for name in CLASSIFY_HEADERS if name in fields
        },
    )


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value).strip("\r\n")
