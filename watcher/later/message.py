"""Pure: the user's draft (its raw MIME) -> the message that goes out.

The draft's body and attachments go out as they are. Only the headers change: the tag address
(me+later-2w@…) leaves To, Cc and Bcc; Message-ID becomes the deterministic one (what makes
the send exactly-once: find_sent looks for it); Date becomes the moment of sending; headers
only mail clients use for drafts go. Bcc stays in the message for Gmail (the API delivers to
it and keeps it in the Sent copy only); over SMTP the envelope carries the Bcc recipients and
the header must go, or every recipient would read it.
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage

from ..compose import bump_message_id
from ..errors import ValidationError

# Headers mail clients keep on drafts only (Thunderbird, Apple Mail, Outlook).
_DRAFT_ONLY = (
    "x-mozilla-draft-info",
    "x-identity-key",
    "x-account-key",
    "x-uniform-type-identifier",
    "x-apple-mail-remote-attachments",
    "x-universally-unique-identifier",
    "x-apple-base-url",
    "x-ms-tnef-correlator",
)
_ADDRESS_FIELDS = ("to", "cc", "bcc")


def later_message_id(token: str, account_email: str) -> str:
    """The deterministic Message-ID of one scheduled send: "<rw-later.…@domain>" (not "<rw.",
    which marks bumps)."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:24]
    domain = bump_message_id("x", 0, account_email).rpartition("@")[2].rstrip(">")
    return f"<rw-later.{digest}@{domain}>"


def recipients_of(raw: bytes, tag_address: str) -> list[str]:
    """To, Cc and Bcc of the draft (bare, lower-case, in order), the tag address left out."""
    msg = message_from_bytes(raw, policy=email.policy.default)
    found: dict[str, None] = {}
    for field in _ADDRESS_FIELDS:
        for _, address in email.utils.getaddresses([str(v) for v in msg.get_all(field, [])]):
            address = address.strip().lower()
            if "@" in address and address != tag_address.lower():
                found[address] = None
    return list(found)


def outgoing(
    raw: bytes, *, tag_address: str, message_id: str, now: datetime, keep_bcc: bool
) -> tuple[bytes, tuple[str, ...]]:
    """The message to send and its envelope recipients. Raises ValidationError if nobody
    is left to send it to."""
    msg = message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    recipients = recipients_of(raw, tag_address)
    if not recipients:
        raise ValidationError("the draft has no recipient besides your send-later address")
    for field in _ADDRESS_FIELDS:
        values = [str(v) for v in msg.get_all(field, [])]
        del msg[field]
        kept = [
            (name, address)
            for name, address in email.utils.getaddresses(values)
            if address and address.strip().lower() != tag_address.lower()
        ]
        if kept and (field != "bcc" or keep_bcc):
            msg[field] = ", ".join(email.utils.formataddr(pair) for pair in kept)
    for field in ("message-id", "date", *_DRAFT_ONLY):
        del msg[field]
    msg["Message-ID"] = message_id
    msg["Date"] = email.utils.format_datetime(now)
    return msg.as_bytes(policy=email.policy.SMTP), tuple(recipients)
