"""Words for the page instead of internal names: which check decided about a message.

The watcher's Events name the classification rule that fired ("default-reply", "x-autoreply")
so a decision can be traced; the page says it the way a person would, and leaves out the ones
the event's own text already explains.
"""

from __future__ import annotations

import re

# "rule 'Client questions' (#3)", "an active follow-up (#12)": database ids, which the
# watcher's texts carry for the CLI and the log, mean nothing on a page.
_ID = re.compile(r"\s*\(#\d+\)")
_RULE = re.compile(r"\brule '([^']*)'")

RULE_WORDS = {
    "default-reply": "a person wrote back in the thread",
    "reply-despite-precedence": "a person wrote back (the list header did not hide it)",
    "reply-via-list": "a person wrote back through a mailing list",
    "reply-from-postmaster": "a mail administrator wrote back",
    "auto-submitted": "the message says it was sent automatically (Auto-Submitted)",
    "x-autoreply": "the message is marked as an automatic reply",
    "x-autorespond": "the message is marked as an automatic reply",
    "x-autoresponder": "the message is marked as an automatic reply",
    "precedence-auto-reply": "the message is marked as an automatic reply",
    "x-auto-response-suppress": "the message is marked as an automatic reply",
    "exchange-oof": "an out-of-office reply from Exchange",
    "ooo-subject": "the subject reads like an out-of-office reply",
    "exchange-inbox-rule": "a mailbox rule answered, not a person",
    "challenge-response": "an anti-spam challenge, not a person",
    "dsn-report": "a delivery failure report",
    "dsn-delayed": "a delivery delay notice",
    "dsn-success": "a delivery confirmation",
    "exchange-ndr": "a delivery failure report",
    "mailer-daemon": "a delivery failure report",
    "bounce-subject": "the subject reads like a delivery failure",
    "null-return-path": "a delivery report",
    "list-id": "mailing list mail",
    "list-unsubscribe": "mailing list mail",
    "precedence-list": "mailing list mail",
    "own-bump": "Replywatch's own bump",
    "own-address": "your own message",
    "sent-folder": "your own message (in Sent)",
    "not-in-sent": "it only claims to be from you (not in your Sent folder)",
    "read-receipt": "a read receipt",
}


def rule_words(rule: str | None) -> str:
    """How a decision was made, in words; "" where there are none (the detail says it)."""
    return RULE_WORDS.get(rule or "", "")


def plain(text: str | None) -> str:
    """A watcher text for the page: no "(#3)" ids; "rule 'X'" reads "your rule “X”"."""
    return _RULE.sub(lambda m: f"your rule “{m.group(1)}”", _ID.sub("", text or ""))
