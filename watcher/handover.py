"""Settling a bump whose SMTP hand-over broke off (the watcher died, or the line dropped,
between the message's last line and the server's answer): by evidence, never by a guess.

    copy found (Sent, or the receipt copy)        -> SENT
    Sent is authoritative (Gmail API)             -> RETRY: not in Sent, so it never left
    evidence can exist ("receipt" | "sent"):
        within the grace after the hand-over      -> WAIT until the grace ends, then look again
        grace over, still no copy                 -> RESEND (same Message-ID, same checks)
    no evidence can exist                         -> UNCONFIRMED: the user says (as before)

A crash at any point leaves the stage SENDING (handed_over_at and evidence kept) or PENDING,
and the next watcher goes through this again: a copy that arrived meanwhile is found first.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from .evidence import evidence_for, receipt_address


class Outcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # authoritative Sent says it never left: try again later
    WAIT = "wait"
    RESEND = "resend"
    UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    until: datetime | None = None  # WAIT: when to look again


def decide(
    *,
    found: bool,
    authoritative: bool,
    evidence: str | None,
    handed_over_at: datetime | None,
    now: datetime,
    grace: timedelta,
) -> Decision:
    if found:
        return Decision(Outcome.SENT)
    if authoritative:
        return Decision(Outcome.RETRY)
    if evidence not in ("receipt", "sent"):
        return Decision(Outcome.UNCONFIRMED)
    deadline = (handed_over_at or now) + grace
    if now < deadline:
        return Decision(Outcome.WAIT, deadline)
    return Decision(Outcome.RESEND)


def evidence_of(mailbox, message_id: str) -> str | None:
    """What can show later whether this hand-over went through (stored on the stage)."""
    if getattr(mailbox, "sent_copy_is_authoritative", False):
        return "sent"
    kind = getattr(mailbox, "send_evidence", None)
    if kind == "receipt":
        # Only if the server took the receipt address for this very message.
        return "receipt" if message_id in getattr(mailbox, "receipts", ()) else None
    return kind if kind == "sent" else None


def look_for_copy(retry, mailbox, message_id: str, evidence: str | None) -> tuple[str | None, str]:
    """(ref, where) of a copy of our message: Sent first, then the arrived receipt copy."""
    found = retry(lambda: mailbox.find_sent(message_id))
    if found:
        return found, "found in Sent"
    finder = getattr(mailbox, "find_delivered", None)
    if evidence == "receipt" and finder is not None:
        found = retry(lambda: finder(message_id))
        if found:
            return found, "its receipt copy arrived"
    return None, ""


def receipt_bounced(s, followup, account, msg) -> bool:
    """A bounce that names only the receipt address: the server takes no plus-addresses.
    Receipts are turned off for the account, and a stage of this follow-up that waits for its
    receipt copy now has no evidence (it is asked about, never sent again on a silence)."""
    from .classify import delivery_report
    from .models import Account, StageState

    failed = {a.lower() for a in delivery_report(msg).failed}
    if not failed or failed != {receipt_address(account.email)}:
        return False
    row = s.get(Account, account.id)
    row.settings = {**(row.settings or {}), "send_evidence": "none"}
    for stage in followup.stages:
        if stage.state == StageState.SENDING and stage.evidence == "receipt":
            stage.evidence = None
    return True


__all__ = ["Decision", "Outcome", "decide", "evidence_for", "evidence_of", "look_for_copy"]
