"""What the plus-address, folder and draft processors share: reading one pending item,
settling it, and creating a follow-up for it.

A processor reads the item (a short session), does its mailbox I/O outside any session, then
writes the follow-up and the item's outcome in one transaction, so a crash between the two
leaves the item pending and the next pass picks it up again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from .. import followups as fu_ops
from ..errors import ConflictError, ReplywatchError, ValidationError
from ..mailbox import MessageSummary
from ..models import Account, FollowUp, TriggerItem
from ..rules import bulk_reason
from . import Candidate, Job, summary_from_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    """A pending TriggerItem as a processor reads it."""

    id: int
    kind: str
    key: str
    spec: str
    message: MessageSummary
    refs: tuple[str, ...]
    followup_id: int | None
    # Decided but not yet settled ("done" / "ignored"): only copies are left to move.
    settle_as: str | None = None


def load(job: Job) -> Item | None:
    """The job's item, or None if it is no longer pending (settled by another watcher)."""
    with job.store.session() as s:
        row = s.get(TriggerItem, job.item_id)
        if row is None or row.state != "pending":
            return None
        return Item(
            id=row.id,
            kind=row.kind,
            key=row.key,
            spec=row.spec,
            message=summary_from_json(row.summary),
            refs=tuple(row.refs or ()),
            followup_id=row.followup_id,
            settle_as=(row.summary or {}).get("settle_as"),
        )


def pending_row(s: Session, job: Job) -> TriggerItem | None:
    """The item row inside a writing transaction, None if someone settled it meanwhile."""
    row = s.get(TriggerItem, job.item_id)
    return row if row is not None and row.state == "pending" else None


def settle(
    s: Session, job: Job, row: TriggerItem, state: str, outcome: str, followup_id=None
) -> None:
    """Mark the item done or ignored, with what happened in words."""
    row.state = state
    row.outcome = outcome
    if followup_id is not None:
        row.followup_id = followup_id
    row.done_at = job.clock()


def decide(
    s: Session, job: Job, row: TriggerItem, state: str, outcome: str, followup_id=None
) -> None:
    """Settle the item; or, while copies still wait to be moved (filed away, released), keep
    it pending with the decision recorded (`settle_as`), so a retry never decides twice."""
    if not row.refs:
        settle(s, job, row, state, outcome, followup_id)
        return
    row.outcome = outcome
    if followup_id is not None:
        row.followup_id = followup_id
    row.summary = {**row.summary, "settle_as": state}  # a new dict: JSON is not mutable-tracked


def reopen_to_move(row: TriggerItem, candidate: Candidate) -> None:
    """LATE_COPIES handler: another copy of a message already acted on (the inbox copy that
    arrived after the Sent copy): move it too, deciding nothing again."""
    if row.state not in ("pending", "done", "ignored"):
        return  # e.g. a help email on its way: leave that alone
    row.refs = [*(row.refs or []), *candidate.refs]
    if row.state != "pending":
        row.summary = {**row.summary, "settle_as": row.state}
        row.state = "pending"


def reopen_to_decide(row: TriggerItem, candidate: Candidate) -> None:
    """LATE_COPIES handler: the message was put in a trigger folder again: decide again (a new
    follow-up if the earlier one has ended, else an Event that it is covered)."""
    if row.state not in ("pending", "done", "ignored"):
        return
    row.refs = [*(row.refs or []), *candidate.refs]
    if row.state != "pending":
        row.spec = candidate.spec  # the folder it is in now
        row.summary = {k: v for k, v in row.summary.items() if k != "settle_as"}
        row.state = "pending"


def move_copies(job: Job, item: Item, what: str, move) -> bool:
    """Move every copy with `move(ref)` (file_away / release_trigger); once all are moved,
    settle the item as decided. False if one failed: the item stays pending for next pass."""
    for ref in item.refs:
        if try_mailbox(job, f"{what} {ref}", lambda ref=ref: move(ref)):
            return False
    with job.store.session() as s:
        row = pending_row(s, job)
        if row is not None and row.summary.get("settle_as"):
            row.refs = []
            settle(s, job, row, row.summary["settle_as"], row.outcome)
    return True


def account_event(s: Session, job: Job, kind: str, detail: str, message_id=None) -> None:
    job.store.add_event(
        s,
        user_id=job.account.user_id,
        account_id=job.account.id,
        kind=kind,
        detail=detail,
        message_id=message_id or None,
        at=job.clock(),
    )


def followup_event(s: Session, job: Job, followup: FollowUp, kind: str, detail: str) -> None:
    job.store.add_event(
        s,
        user_id=followup.user_id,
        followup_id=followup.id,
        kind=kind,
        detail=detail,
        at=job.clock(),
    )


def create(
    s: Session,
    job: Job,
    anchor: MessageSummary,
    stages: list[fu_ops.StageSpec],
    *,
    origin: str,
    mode: str | None = None,
    recipients_judged: bool = False,
) -> FollowUp:
    """A follow-up created by a trigger (raises ValidationError/ConflictError like the faces).

    Nobody clicked, so what made it must be the user's own sent mail (a Sent copy or the
    SENT label: MessageSummary.sent_by_user), and a mass mailing gets none: the bulk limit of
    rules (rules.bulk_reason), unless the caller judged the recipients itself
    (`recipients_judged`: a rule, whose own filters the user set, e.g. --any-recipient)."""
    own = job.account.own_addresses
    if not anchor.sent_by_user(own):
        raise ValidationError(
            "it is not in your sent mail, and only a message you sent can set a follow-up"
        )
    bulk = None if recipients_judged else bulk_reason(fu_ops.theirs((*anchor.to, *anchor.cc), own))
    if bulk:
        raise ValidationError(f"{bulk}: a mass mailing gets no follow-up")
    account = s.get(Account, job.account.id)
    return fu_ops.create_followup(
        job.store,
        s,
        account=account,
        anchor=anchor,  # create_followup leaves the user's plus-addresses out of To/Cc
        stages=stages,
        mode=mode or "send",
        now=job.clock(),
        jitter_minutes=job.jitter_minutes,
        origin=origin,
    )


def try_mailbox(job: Job, what: str, call) -> str | None:
    """Run a mailbox call through the engine's retry policy; the error's message on failure
    (the item stays pending and is tried again next pass), None on success."""
    try:
        job.retry(call)
    except ReplywatchError as e:
        log.warning("account %s: %s failed: %s", job.account.id, what, e.message)
        return e.message
    return None


def create_once(
    s: Session,
    job: Job,
    row: TriggerItem,
    msg: MessageSummary,
    stages: list[fu_ops.StageSpec],
    *,
    origin: str,
    mode: str | None = None,
) -> None:
    """The follow-up a trigger asks for, decided into `row` in the caller's transaction: none
    if the message already has an active one (an Event on it says so), or if it cannot be made
    (an account Event says why)."""
    existing = job.store.active_followup_for_anchor(s, job.account.id, msg.message_id)
    where = "this message"
    if existing is None:  # one thread, one follow-up: never two bumps answering each other
        linked = job.store.active_followups_linked(
            s, job.account.id, msg.linked_ids, [msg.thread_ref] if msg.thread_ref else []
        )
        existing, where = (linked[0], "its thread") if linked else (None, where)
    if existing is not None:
        followup_event(
            s,
            job,
            existing,
            "trigger_covered",
            f"{origin} asked for a follow-up on {msg.subject!r}; {where} already has this one "
            f"(set by {existing.origin or 'you'}), so nothing was added",
        )
        decide(s, job, row, "ignored", f"already covered by follow-up {existing.id}", existing.id)
        return
    try:
        with s.begin_nested():
            followup = create(s, job, msg, stages, origin=origin, mode=mode)
    except (ValidationError, ConflictError) as e:
        account_event(
            s,
            job,
            "trigger_ignored",
            f"{origin} on {msg.subject!r}: no follow-up was set: {e.message}",
            msg.message_id,
        )
        decide(s, job, row, "ignored", f"no follow-up: {e.message}")
        return
    decide(s, job, row, "done", f"follow-up {followup.id} set by {origin}", followup.id)
