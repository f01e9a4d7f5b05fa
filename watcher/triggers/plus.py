"""Plus-address trigger: Bcc (or Cc) me+2w@example.com on a message to put a follow-up on it.

The tag is read by schedule.parse_plus_tag (3d, 2w, 5bd, 12h, fri, tomorrow, 3d-1w, …-remind,
…-send). Only messages the user sent count: the copy in Sent (IMAP \\Sent folder, Gmail SENT
label) with the plus-address in its Bcc, Cc or To, and From one of the user's addresses. A
newsletter to me+news@… is no trigger, and neither is an inbox copy alone: anyone can send
"From: you" to you+1d@… (with To: whoever they like). The Sent copy and the inbox copy
(delivered to me+2w@…) share one Message-ID, so they make one item, decided by the Sent copy;
an inbox copy seen first is held (UNVERIFIED) and left in the inbox until its Sent copy comes,
then filed away, never judged as a reply.

A tag that cannot be read gets no follow-up but one short email to the user's plain address
explaining the valid forms; it goes out at most once (deterministic Message-ID, find_sent first,
and the item leaves "pending" before the point of no return).
"""

from __future__ import annotations

import logging

from .. import schedule, send_caps
from ..compose import compose_trigger_help, trigger_help_message_id
from ..errors import (
    PermanentError,
    ReplywatchError,
    SendRejected,
    SendUnconfirmed,
    TransientError,
    ValidationError,
)
from ..evidence import RECEIPT_TAG
from ..followups import StageSpec, plus_tag, user_window
from ..mailbox import MessageSummary
from ..models import Account, Mode, TriggerItem
from . import LATE_COPIES, RESUMERS, Candidate, Job, TriggerContext, register, summary_from_json
from .acting import (
    Item,
    account_event,
    create_once,
    load,
    move_copies,
    pending_row,
    reopen_to_move,
    settle,
    try_mailbox,
)

log = logging.getLogger(__name__)

KIND = "plus"
SPEC_LIMIT = 200  # TriggerItem.spec holds the address
# A malformed address's item while its help email is handed over: out of "pending", so a
# crash there never leads to a second email (the engine's SENDING, for one item).
ANSWERING = "answering"


def find_plus_address(msg: MessageSummary, own_addresses) -> str | None:
    """The first own plus-address (other than me+bump@…, which marks drafts) among the
    message's Bcc, Cc, To and Delivered-To."""
    for address in (*msg.bcc, *msg.cc, *msg.to, *msg.delivered_to):
        tag = plus_tag(address, own_addresses)
        if tag in (schedule.PLUS_RESERVED, RECEIPT_TAG):  # a draft's mark; a bump's receipt
            continue
        if tag is not None and len(address) <= SPEC_LIMIT:
            return address.strip().lower()
    for address in (*msg.bcc, *msg.cc, *msg.to, *msg.delivered_to):
        if plus_tag(address, own_addresses) == schedule.PLUS_RESERVED:
            return address.strip().lower()  # me+bump@… on a sent message: explained by email
    return None


def is_inbox_copy(msg: MessageSummary) -> bool:
    """The copy that landed in the user's inbox (to be filed away), not the one in Sent."""
    return not msg.in_sent or bool(msg.delivered_to)


def is_own_inbox_copy(job: Job, msg: MessageSummary) -> bool:
    """On Gmail a message to oneself (me+2w@… too) is one message labelled both SENT and
    INBOX: the sent message is its own inbox copy (file_away only takes INBOX and UNREAD off)."""
    return (
        job.account.spec.kind == "gmail"
        and msg.in_sent
        and find_plus_address(msg, job.account.own_addresses) is not None
    )


def inbox_copies(job: Job, item: Item) -> tuple[str, ...]:
    """The refs to file away: the inbox copies found, and on Gmail the message itself."""
    if is_own_inbox_copy(job, item.message):
        return tuple(dict.fromkeys((*item.refs, item.message.ref)))
    return item.refs


def recognise(ctx: TriggerContext, msg: MessageSummary) -> Candidate | None:
    # Drafts belong to the draft trigger; a copy in a trigger folder to the folder trigger.
    if msg.is_draft or msg.folder or not msg.message_id:
        return None
    if not msg.from_addr or msg.from_addr not in ctx.own_addresses:
        return None  # newsletters and shops write to plus-addresses too
    address = find_plus_address(msg, ctx.own_addresses)
    if address is None:
        return None
    if not msg.sent_by_user(ctx.own_addresses):
        # An inbox copy From: the user, but anyone can write that From: held until the Sent
        # copy of the same message shows the user sent it; alone it does nothing.
        return Candidate(KIND, msg.message_id, spec=address, refs=[msg.ref], verified=False)
    refs = [msg.ref] if is_inbox_copy(msg) else []
    return Candidate(KIND, msg.message_id, spec=address, refs=refs)


def origin_of(address: str) -> str:
    return f"plus-address {address}"


def stages_for(tag: schedule.PlusTag, job: Job, user) -> list[StageSpec]:
    at = tag.first_at(job.clock(), user_window(user))
    specs = []
    for position, step in enumerate(tag.steps, start=1):
        if position == 1 and at is not None:
            specs.append(StageSpec(at=at))
        else:
            specs.append(StageSpec(delay=step))
    return specs


def process(job: Job) -> None:
    item = load(job)
    if item is None:
        return
    if item.settle_as is None:  # not decided yet (else only copies are left to file)
        try:
            tag = schedule.parse_plus_tag(plus_tag(item.spec, job.account.own_addresses) or "")
        except ValidationError as e:
            answer_malformed(job, item, e.message)
            return
        set_followup(job, item, tag)
        item = load(job)
        if item is None:
            return
    move_copies(job, item, "filing away", job.mailbox.file_away)


def set_followup(job: Job, item: Item, tag: schedule.PlusTag) -> None:
    """Create the follow-up (or say why not) and record that in the item, in one transaction."""
    origin = origin_of(item.spec)
    msg = item.message
    with job.store.session() as s:
        row = pending_row(s, job)
        if row is None:
            return
        row.refs = list(inbox_copies(job, item))
        user = s.get(Account, job.account.id).user
        mode = Mode.REMIND if tag.mode == "remind" else Mode.SEND
        create_once(s, job, row, msg, stages_for(tag, job, user), origin=origin, mode=mode)


class _NotPending(ReplywatchError):
    """The item was settled meanwhile, before the help email was handed over: send nothing."""


def answer_malformed(job: Job, item: Item, problem: str, forms: str = schedule.PLUS_HELP) -> None:
    """No follow-up; the copy filed away; one short email to the user with the valid forms."""
    for ref in inbox_copies(job, item):
        if try_mailbox(job, f"filing away {ref}", lambda ref=ref: job.mailbox.file_away(ref)):
            return  # tried again next pass, before anything is sent
    msg = item.message
    help_mail = compose_trigger_help(
        account_email=job.account.email,
        account_name=job.account.display_name,
        address=item.spec,
        problem=problem,
        original=msg,
        now=job.clock(),
        forms=forms,
    )
    what = f"{item.spec} on {msg.subject!r} is not a follow-up schedule: {problem}"
    if job.retry(lambda: job.mailbox.find_sent(help_mail.message_id)):
        _settle_help(job, f"{what}; the email about it had already gone out", "already sent")
        return
    with job.store.session() as s:  # over today's send cap: it waits (pending) for tomorrow
        if send_caps.status(s, s.get(Account, job.account.id), job.clock()).reached:
            return

    def before_commit() -> None:
        # From here on the email may go out: leave "pending" so it is never sent twice.
        with job.store.session() as s:
            row = pending_row(s, job)
            if row is None:
                raise _NotPending(f"trigger item {job.item_id} was settled meanwhile")
            send_caps.claim(s, job.account.id, help_mail.message_id, "help", job.clock())
            row.state = ANSWERING

    try:
        job.retry(lambda: job.mailbox.send(help_mail, before_commit))
    except (_NotPending, send_caps.CapReached):
        return
    except SendUnconfirmed as e:
        detail = (
            f"{what}; the email with the valid forms may not have gone out ({e.message}); "
            "it is not sent again"
        )
        _settle_help(job, detail, "help email unconfirmed")
        return
    except SendRejected as e:
        with job.store.session() as s:
            send_caps.forget(s, job.account.id, help_mail.message_id)
        detail = f"{what}; the email with the valid forms was refused: {e.message}"
        _settle_help(job, detail, "help email refused")
        return
    except (TransientError, PermanentError):
        # Our mailboxes raise these only when the server surely did not take the message.
        with job.store.session() as s:
            row = s.get(TriggerItem, job.item_id)
            if row is not None and row.state == ANSWERING:
                row.state = "pending"
                send_caps.forget(s, job.account.id, help_mail.message_id)
        raise
    _settle_help(job, f"{what}; sent you a short email with the valid forms", "help email sent")


def _settle_help(job: Job, detail: str, outcome: str) -> None:
    with job.store.session() as s:
        row = s.get(TriggerItem, job.item_id)
        if row is None or row.state not in ("pending", ANSWERING):
            return
        row.refs = []
        settle(s, job, row, "ignored", f"malformed plus-address: {outcome}")
        account_event(s, job, "trigger_help", detail, row.summary.get("message_id"))


def resume_answering(job: Job) -> None:
    """A watcher died while handing the help email over: Sent decides, never a second one
    where the server's Sent cannot prove it did not go out (SMTP)."""
    with job.store.session() as s:
        row = s.get(TriggerItem, job.item_id)
        if row is None or row.state != ANSWERING:
            return
        msg = summary_from_json(row.summary)
        address = row.spec
    what = f"{address} on {msg.subject!r} is not a follow-up schedule"
    help_id = trigger_help_message_id(msg.message_id, address, job.account.email)
    if job.retry(lambda: job.mailbox.find_sent(help_id)):
        _settle_help(job, f"{what}; sent you a short email with the valid forms", "help email sent")
    elif job.mailbox.sent_copy_is_authoritative:
        with job.store.session() as s:  # not in Sent, where this server files all it sends
            row = s.get(TriggerItem, job.item_id)
            if row is not None and row.state == ANSWERING:
                row.state = "pending"  # answered (once) by this pass
                send_caps.forget(s, job.account.id, help_id)
    else:
        detail = (
            f"{what}; the watcher stopped while sending you the email with the valid forms, "
            "so it may not have gone out; it is not sent again"
        )
        _settle_help(job, detail, "help email unconfirmed")


register(KIND, recognise, process)
RESUMERS[KIND] = (ANSWERING, resume_answering)
LATE_COPIES[KIND] = reopen_to_move
