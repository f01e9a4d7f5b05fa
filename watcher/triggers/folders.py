"""Folder trigger: a sent message moved into "Replywatch/1 week" (IMAP folder) or labelled so
(Gmail) gets a follow-up with that delay; then it goes back where it was (release_trigger).

Only for accounts that opted in (Account.trigger_folders), and only for the user's sent mail:
on Gmail the message keeps its SENT label; on IMAP it carries no delivery trace (ImapMailbox
marks it in_sent), so mail a server filed there itself (user+folder@…) is put back unused.

The key is "folder:<Message-ID>", not the bare Message-ID, so a message that is also Bcc'd to
me+2w@… still gets its folder copy moved back: that item then finds the follow-up the address
made and says so.
"""

from __future__ import annotations

from ..followups import StageSpec
from ..mailbox import TRIGGER_FOLDERS, MessageSummary
from ..schedule import parse_delay
from . import LATE_COPIES, Candidate, Job, TriggerContext, plus, register
from .acting import (
    Item,
    account_event,
    create_once,
    decide,
    load,
    move_copies,
    pending_row,
    reopen_to_decide,
    try_mailbox,
)

KIND = "folder"


def recognise(ctx: TriggerContext, msg: MessageSummary) -> Candidate | None:
    if not ctx.trigger_folders or msg.is_draft or msg.folder not in TRIGGER_FOLDERS:
        return None
    if not msg.message_id:
        return None
    return Candidate(KIND, f"folder:{msg.message_id}", spec=msg.folder, refs=[msg.ref])


def origin_of(job: Job, folder: str) -> str:
    what = "label" if job.account.spec.kind == "gmail" else "folder"
    return f"{what} {folder}"


def process(job: Job) -> None:
    item = load(job)
    if item is None:
        return
    if item.settle_as is None:
        set_followup(job, item)
        item = load(job)
        if item is None:
            return
    if move_copies(job, item, "releasing", job.mailbox.release_trigger) and (
        plus.is_own_inbox_copy(job, item.message)
    ):
        # Also Bcc'd to me+2w@… on Gmail: the plus-address trigger never saw it (this item
        # took the one message), so its inbox copy is filed here.
        try_mailbox(job, "filing away", lambda: job.mailbox.file_away(item.message.ref))


def set_followup(job: Job, item: Item) -> None:
    origin = origin_of(job, item.spec)
    msg = item.message
    with job.store.session() as s:
        row = pending_row(s, job)
        if row is None:
            return
        if not msg.sent_by_user(job.account.own_addresses):
            account_event(
                s,
                job,
                "trigger_ignored",
                f"{msg.subject!r} from {msg.from_addr or 'an unknown sender'} was put in "
                f"{item.spec}, but it is not in your sent mail and follow-ups go on messages "
                "you sent; it was put back",
                msg.message_id,
            )
            decide(s, job, row, "ignored", "not sent by you")
            return
        delay = parse_delay(TRIGGER_FOLDERS[item.spec])
        create_once(s, job, row, msg, [StageSpec(delay=delay)], origin=origin)


register(KIND, recognise, process)
LATE_COPIES[KIND] = reopen_to_decide
