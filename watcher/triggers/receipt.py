"""Receipt copies: the copy of a bump that its SMTP envelope sent to the user's own
`local+rw-receipt@domain` (watcher.evidence) is filed away when it arrives, like the inbox copy
of a plus-address trigger; it never creates or stops anything (its Message-ID is the bump's, so
the judge takes it for the user's own bump, never a reply).

Only a copy whose Message-ID is a bump this account handed to its server is moved: anyone can
write to the receipt address, and such mail stays in the inbox, untouched.
"""

from __future__ import annotations

from sqlalchemy import select

from ..evidence import RECEIPT_TAG
from ..followups import plus_tag
from ..mailbox import MessageSummary
from ..models import FollowUp, Stage
from . import LATE_COPIES, Candidate, Job, TriggerContext, register
from .acting import decide, load, move_copies, pending_row

KIND = "receipt"


def is_receipt_copy(msg: MessageSummary, own_addresses) -> bool:
    return any(
        plus_tag(address, own_addresses) == RECEIPT_TAG
        for address in (*msg.delivered_to, *msg.to, *msg.cc, *msg.bcc)
    )


def recognise(ctx: TriggerContext, msg: MessageSummary) -> Candidate | None:
    if msg.is_draft or msg.folder or not msg.message_id or msg.in_sent:
        return None
    if not is_receipt_copy(msg, ctx.own_addresses):
        return None
    return Candidate(KIND, msg.message_id, spec=RECEIPT_TAG, refs=[msg.ref])


def _our_bump(s, job: Job, message_id: str) -> bool:
    query = (
        select(Stage.id)
        .join(FollowUp, Stage.followup_id == FollowUp.id)
        .where(FollowUp.account_id == job.account.id, Stage.message_id == message_id)
        .limit(1)
    )
    return s.scalar(query) is not None


def process(job: Job) -> None:
    item = load(job)
    if item is None:
        return
    if item.settle_as is None:
        with job.store.session() as s:
            row = pending_row(s, job)
            if row is None:
                return
            if not _our_bump(s, job, item.key):
                row.refs = []  # not ours: left where it is
                decide(s, job, row, "ignored", "mail to the receipt address, not one of your bumps")
                return
            decide(s, job, row, "done", "the receipt copy of a bump, filed away")
        item = load(job)
        if item is None:
            return
    move_copies(job, item, "filing away", job.mailbox.file_away)


def _late_copy(row, candidate: Candidate) -> None:
    """The receipt of a bump sent again after the grace (same Message-ID): file it too."""
    if row.state == "done":
        row.refs = list(candidate.refs)
        row.state = "pending"
        row.summary = {**(row.summary or {}), "settle_as": "done"}


register(KIND, recognise, process)
LATE_COPIES[KIND] = _late_copy
