"""Follow-ups without clicking: triggers find them in new mail.

Two steps, so that nothing is lost and nothing is done twice:

1. `record()` runs inside the transaction that moves the mailbox cursor. Every new message a
   trigger wants becomes one TriggerItem row, unique per (account, key): a message asked for
   by two triggers (a Bcc to me+2w@… that a rule also matches) gets one row, from the trigger
   listed first in RECOGNISERS, so it never gets two follow-ups.
2. `process_pending()` runs after that commit, outside any session while it does I/O: each
   pending item is acted on (read a body, create the follow-up, file the copy away, answer a
   malformed address) and then marked done or ignored, with an Event that names the trigger.

A recogniser looks at one MessageSummary and returns a Candidate or None; it is pure.
A processor takes a Job (one pending item plus what it may use) and does the work.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select

from ..mailbox import Mailbox, MessageSummary
from ..models import Rule, TriggerItem
from ..store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TriggerContext:
    """What recognisers may look at besides the message (read in the cursor's transaction)."""

    account_id: int
    user_id: int
    email: str
    own_addresses: frozenset[str]
    trigger_folders: bool
    rules: tuple[Rule, ...]  # the account's enabled rules
    now: datetime


@dataclass
class Candidate:
    kind: str  # plus | folder | draft | rule
    key: str  # Message-ID, or "draft:<ref>"
    spec: str = ""
    refs: list[str] = field(default_factory=list)  # copies to file away / move back
    # False for a copy that only claims to be the user's (an inbox copy From: them, not in
    # Sent): it is held, never acted on, until the Sent copy of the same message turns up.
    verified: bool = True


# The state of an item made only of unverified copies: no follow-up, no email, nothing moved.
UNVERIFIED = "unverified"


@dataclass
class Job:
    """One pending TriggerItem and the means to act on it."""

    store: Store
    mailbox: Mailbox
    item_id: int
    account: Any  # engine.AccountView
    clock: Callable[[], datetime]
    retry: Callable[[Callable[[], Any]], Any]  # the engine's tenacity policy
    jitter_minutes: int = 0


Recogniser = Callable[[TriggerContext, MessageSummary], Candidate | None]
Processor = Callable[[Job], None]

# In priority order: an explicit signal (address, folder, draft) beats a rule.
RECOGNISERS: list[Recogniser] = []
PROCESSORS: dict[str, Processor] = {}
# kind -> what to do with the item when another copy of its message turns up in a later pass
# (the inbox copy of a Bcc delivered after the Sent copy was seen; a message moved into a
# trigger folder again): called in record()'s transaction with the item and the candidate,
# whose refs are only the new ones.
LATE_COPIES: dict[str, Callable[[TriggerItem, Candidate], None]] = {}


def register(kind: str, recogniser: Recogniser, processor: Processor) -> None:
    RECOGNISERS.append(recogniser)
    PROCESSORS[kind] = processor


def summary_to_json(msg: MessageSummary) -> dict:
    """What a processor needs of the message later (no body): JSON for TriggerItem.summary."""
    return {
        "ref": msg.ref,
        "message_id": msg.message_id,
        "subject": msg.subject,
        "from_addr": msg.from_addr,
        "from_name": msg.from_name,
        "to": list(msg.to),
        "cc": list(msg.cc),
        "bcc": list(msg.bcc),
        "date": msg.date.isoformat() if msg.date else None,
        "in_reply_to": list(msg.in_reply_to),
        "references": list(msg.references),
        "thread_ref": msg.thread_ref,
        "in_sent": msg.in_sent,
        "names": dict(msg.names),
        "folder": msg.folder,
        "is_draft": msg.is_draft,
    }


def summary_from_json(data: dict) -> MessageSummary:
    return MessageSummary(
        ref=data["ref"],
        message_id=data["message_id"],
        subject=data.get("subject", ""),
        from_addr=data.get("from_addr", ""),
        from_name=data.get("from_name", ""),
        to=tuple(data.get("to", ())),
        cc=tuple(data.get("cc", ())),
        bcc=tuple(data.get("bcc", ())),
        date=datetime.fromisoformat(data["date"]) if data.get("date") else None,
        in_reply_to=tuple(data.get("in_reply_to", ())),
        references=tuple(data.get("references", ())),
        thread_ref=data.get("thread_ref"),
        in_sent=bool(data.get("in_sent")),
        names=dict(data.get("names", {})),
        folder=data.get("folder", ""),
        is_draft=bool(data.get("is_draft")),
    )


def record(store: Store, s, ctx: TriggerContext, messages: Iterable[MessageSummary]) -> int:
    """Turn what triggers want in `messages` into pending TriggerItems; returns how many."""
    if not RECOGNISERS:
        return 0
    wanted: dict[str, tuple[Candidate, MessageSummary]] = {}
    for msg in messages:
        for recognise in RECOGNISERS:
            candidate = recognise(ctx, msg)
            if candidate is None:
                continue
            held = wanted.get(candidate.key)
            if held is None:
                wanted[candidate.key] = (candidate, msg)
            elif candidate.verified and not held[0].verified:
                # The Sent copy decides what the item is (its To, Cc and plus-address); the
                # inbox copy seen first only adds its ref (to be filed away).
                candidate.refs[:0] = [r for r in held[0].refs if r not in candidate.refs]
                wanted[candidate.key] = (candidate, msg)
            else:  # another copy of the same message: keep both refs
                first = held[0]
                first.refs.extend(r for r in candidate.refs if r not in first.refs)
            break  # the first trigger that wants a message owns it
    if not wanted:
        return 0
    rows = {
        row.key: row
        for row in s.scalars(
            select(TriggerItem).where(
                TriggerItem.account_id == ctx.account_id, TriggerItem.key.in_(list(wanted))
            )
        )
    }
    added = 0
    for key, (candidate, msg) in wanted.items():
        row = rows.get(key)
        if row is None:
            s.add(
                TriggerItem(
                    user_id=ctx.user_id,
                    account_id=ctx.account_id,
                    key=key,
                    kind=candidate.kind,
                    spec=candidate.spec,
                    summary=summary_to_json(msg),
                    refs=candidate.refs,
                    state="pending" if candidate.verified else UNVERIFIED,
                    outcome="",
                    created_at=ctx.now,
                )
            )
            added += candidate.verified
        elif row.state == UNVERIFIED and row.kind == candidate.kind:
            added += _hold_or_verify(row, candidate, msg)
        else:  # already asked for (another copy, another pass): never twice
            _late_copy(row, candidate)
    return added


def _hold_or_verify(row: TriggerItem, candidate: Candidate, msg: MessageSummary) -> int:
    """An item held for want of its Sent copy: one more inbox copy is only kept; the Sent copy
    makes it pending, as that copy says (the inbox copies never decide anything)."""
    row.refs = [*(row.refs or []), *(r for r in candidate.refs if r not in (row.refs or []))]
    if not candidate.verified:
        return 0
    row.spec = candidate.spec
    row.summary = summary_to_json(msg)
    row.state = "pending"
    return 1


def _late_copy(row: TriggerItem, candidate: Candidate) -> None:
    new = [r for r in candidate.refs if r not in (row.refs or [])]
    if new and row.kind == candidate.kind and row.kind in LATE_COPIES:
        LATE_COPIES[row.kind](row, dataclasses.replace(candidate, refs=new))


# kind -> (state, resumer): an item left in `state` by a watcher that died mid-step (e.g. a
# help email handed to the server) is settled by its resumer at the next pass. The account's
# lease makes the pass the only one serving the account.
RESUMERS: dict[str, tuple[str, Processor]] = {}
BATCH = 50


def _handler(kind: str, state: str) -> Processor | None:
    if state == "pending":
        return PROCESSORS.get(kind)
    resumable = RESUMERS.get(kind)
    return resumable[1] if resumable and resumable[0] == state else None


@cache
def _waiting_items(states: tuple[str, ...]):
    """Built once: this query runs on every check of every account, mostly to find nothing."""
    return (
        select(TriggerItem.id, TriggerItem.kind, TriggerItem.state)
        .where(TriggerItem.account_id == bindparam("account_id"), TriggerItem.state.in_(states))
        .order_by(TriggerItem.id)
        .limit(BATCH)
    )


def process_pending(make_job: Callable[[int], Job], store: Store, account_id: int) -> int:
    """Act on every waiting item of the account (pending, or interrupted mid-step); returns
    how many were handled. One query when there is nothing to do: it runs every pass."""
    states = ("pending", *sorted({state for state, _ in RESUMERS.values()}))
    handled, left = 0, set()  # left: (id, state) acted on that stayed so, until next pass
    while True:
        query = _waiting_items(states)
        if left:
            query = query.where(TriggerItem.id.not_in([i for i, _ in left]))
        with store.session() as s:
            rows = s.execute(query, {"account_id": account_id}).all()
        if not rows:
            return handled
        for item_id, kind, state in rows:
            handler = _handler(kind, state)
            if handler is not None:  # (an unknown kind stays for a newer watcher)
                handler(make_job(item_id))
                handled += 1
            with store.session() as s:
                now_in = s.scalar(select(TriggerItem.state).where(TriggerItem.id == item_id))
            if now_in == state or handler is None:
                left.add((item_id, state))  # e.g. waits for a body: next pass


# Each trigger registers itself on import, in priority order: plus-address, folder, draft.
# A bump's receipt copy (to me+rw-receipt@…) comes first: it is only ever filed away.
from . import receipt  # noqa: E402, F401, I001
from . import plus  # noqa: E402, F401
from . import folders  # noqa: E402, F401
from . import drafts  # noqa: E402, F401
from ..later import scan as _later_scan  # noqa: E402, F401  (send later: drafts to me+later-…)

# Registration order is priority: the rule trigger stays LAST (an explicit signal wins).
from . import by_rule  # noqa: E402, F401
