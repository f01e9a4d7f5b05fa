"""Drafts as bumps: a draft reply the user files in Replywatch/Bumps (or addresses to
me+bump@…) becomes the text of the next bump in the thread it replies to.

The bump is still sent only if nobody replied; the engine then deletes the draft (its text went
out). A reply stops the follow-up and the draft stays where it is, and the user is told. A
newer version of the draft replaces the older one. With no follow-up on that thread yet, one is
made on the message the draft answers (if the user sent it), after the user's default delay.

Each saved version is its own item ("draft:<ref>"): a client that saves again makes a new ref.
"""

from __future__ import annotations

import re

from ..errors import ConflictError, ValidationError
from ..followups import StageSpec, plus_tag
from ..mailbox import BUMPS_FOLDER, MessageSummary
from ..models import Account, FollowUp, FollowUpState, Mode, StageState
from ..schedule import PLUS_RESERVED, parse_delay
from . import Candidate, Job, TriggerContext, register
from .acting import (
    Item,
    account_event,
    create,
    followup_event,
    load,
    pending_row,
    settle,
    try_mailbox,
)

KIND = "draft"

# The line a client writes above the quote: "On Tue, 3 Mar 2026 at 10:00, Bob <b@x> wrote:"
# (often wrapped onto two lines), and Outlook's separator, after which everything is quoted.
_ATTRIBUTION = re.compile(r"^\s*On\b.*\bwrote:\s*$", re.IGNORECASE | re.DOTALL)
_WROTE_END = re.compile(r"\bwrote:\s*$", re.IGNORECASE)
_OUTLOOK = re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE)


def own_text(body: str) -> str:
    """The draft's own words: quoted lines ("> …"), the "On … wrote:" line above them and an
    Outlook "Original Message" block are left out; surrounding blank lines trimmed."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for line in lines:
        if _OUTLOOK.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        if _ATTRIBUTION.match(line):
            continue
        if _WROTE_END.search(line) and kept and kept[-1].lstrip().lower().startswith("on "):
            kept.pop()  # an attribution wrapped onto two lines
            continue
        kept.append(line.rstrip())
    text = "\n".join(kept).strip("\n")
    return text if text.strip() else ""


def bump_address(msg: MessageSummary, own_addresses) -> str | None:
    for address in (*msg.to, *msg.cc, *msg.bcc):
        if plus_tag(address, own_addresses) == PLUS_RESERVED:
            return address.strip().lower()
    return None


def recognise(ctx: TriggerContext, msg: MessageSummary) -> Candidate | None:
    if not msg.is_draft:
        return None
    if ctx.trigger_folders and msg.folder == BUMPS_FOLDER:
        where = BUMPS_FOLDER
    else:
        address = bump_address(msg, ctx.own_addresses)
        if address is None:
            return None
        where = address
    return Candidate(KIND, f"draft:{msg.ref}", spec=where[:200])


def origin_of(item: Item) -> str:
    return f"draft in {item.spec}" if item.spec == BUMPS_FOLDER else f"draft to {item.spec}"


def as_template(text: str) -> str:
    """Stage texts are templates ({first_name} …); a draft's braces are literal."""
    return text.replace("{", "{{").replace("}", "}}")


def replied_ids(msg: MessageSummary) -> list[str]:
    """The Message-IDs the draft answers, nearest first."""
    ids = [*reversed(msg.in_reply_to), *reversed(msg.references)]
    return [i for i in dict.fromkeys(ids) if i and i != msg.message_id]


def followup_for(s, job: Job, msg: MessageSummary) -> FollowUp | None:
    ids = replied_ids(msg)
    linked = job.store.active_followups_linked(
        s, job.account.id, ids, [msg.thread_ref] if msg.thread_ref else []
    )
    return linked[0] if linked else None


def process(job: Job) -> None:
    item = load(job)
    if item is None:
        return
    msg = item.message
    with job.store.session() as s:
        target = followup_for(s, job, msg)
        target_id = target.id if target is not None else None
    body = job.retry(lambda: job.mailbox.message_text(msg.ref))
    if not body:
        _ignore(job, f"your draft {msg.subject!r} was gone (sent or deleted) before it was read")
        return
    text = own_text(body)
    if not text:
        _ignore(job, f"your draft {msg.subject!r} has no text of its own, so it was not used")
        return
    if target_id is not None:
        use_for(job, item, target_id, text)
    else:
        start_followup(job, item, text)


def use_for(job: Job, item: Item, followup_id: int, text: str) -> None:
    """The draft becomes the text of the follow-up's next bump (replacing an older draft)."""
    msg = item.message
    older = None
    with job.store.session() as s:
        row = pending_row(s, job)
        if row is None:
            return
        followup = job.store.get_followup(s, followup_id)
        stage = followup.stage()
        if (
            followup.state != FollowUpState.ACTIVE
            or stage is None
            or stage.state != StageState.PENDING
        ):
            detail = (
                f"your draft {msg.subject!r} was not used: the follow-up's next bump is "
                "already on its way or the follow-up has ended; the draft stays"
            )
            followup_event(s, job, followup, "draft_ignored", detail)
            settle(s, job, row, "ignored", "the bump was already being sent", followup.id)
            return
        older = stage.draft_ref if stage.draft_ref != msg.ref else None
        stage.text = as_template(text)
        stage.draft_ref = msg.ref
        detail = f"bump {stage.position} will use the text of your draft {msg.subject!r}"
        if older:
            detail += " (it replaces an earlier version)"
        followup_event(s, job, followup, "draft_used", detail)
        if followup.mode == Mode.REMIND and (followup.to_addrs or followup.cc_addrs):
            followup.mode = Mode.SEND
            followup_event(
                s,
                job,
                followup,
                "edited",
                "now sends the bump (it only reminded you before): you wrote a draft for it",
            )
        settle(s, job, row, "done", f"text of bump {stage.position}", followup.id)
    if older:
        discard_older(job, followup_id, older)


def discard_older(job: Job, followup_id: int, ref: str) -> None:
    problem = try_mailbox(job, f"deleting draft {ref}", lambda: job.mailbox.discard_draft(ref))
    if problem:
        with job.store.session() as s:
            followup = job.store.get_followup(s, followup_id)
            followup_event(
                s,
                job,
                followup,
                "draft_kept",
                f"the earlier version of your draft could not be deleted ({problem}); "
                "only the newest one is used",
            )


def start_followup(job: Job, item: Item, text: str) -> None:
    """No follow-up on that thread yet: one on the message the draft answers, if the user sent
    it, after the user's default delay, with the draft as its text."""
    msg = item.message
    ids = replied_ids(msg)
    anchor = None
    for message_id in ids[:1]:
        anchor = job.retry(lambda message_id=message_id: job.mailbox.find_message(message_id))
    if anchor is None:
        why = "it does not reply to a message" if not ids else "the message it answers is gone"
        _ignore(job, f"your draft {msg.subject!r} was not used: {why}")
        return
    if not anchor.sent_by_user(job.account.own_addresses):
        _ignore(
            job,
            f"your draft {msg.subject!r} answers a message from "
            f"{anchor.from_addr or 'someone else'}, not one you sent (it is not in your sent "
            "mail), so no follow-up was set",
        )
        return
    origin = origin_of(item)
    with job.store.session() as s:
        row = pending_row(s, job)
        if row is None:
            return
        user = s.get(Account, job.account.id).user
        try:
            with s.begin_nested():
                stage = StageSpec(delay=parse_delay(user.default_delay), text=as_template(text))
                followup = create(s, job, anchor, [stage], origin=origin)
                followup.stages[0].draft_ref = msg.ref
        except (ValidationError, ConflictError) as e:
            account_event(
                s,
                job,
                "trigger_ignored",
                f"{origin} ({msg.subject!r}): no follow-up was set: {e.message}",
                anchor.message_id,
            )
            settle(s, job, row, "ignored", f"no follow-up: {e.message}")
            return
        settle(s, job, row, "done", f"follow-up {followup.id} set by {origin}", followup.id)


def _ignore(job: Job, detail: str) -> None:
    with job.store.session() as s:
        row = pending_row(s, job)
        if row is None:
            return
        account_event(s, job, "trigger_ignored", detail, row.summary.get("message_id"))
        settle(s, job, row, "ignored", detail)


register(KIND, recognise, process)
