"""The start of the body for every new message in a tracked thread, read before it is judged.

Real bounces, delay warnings and out-of-office replies often carry no telling header
(DESIGN.md, "What counts as a reply"), so the classifier reads the bounded start of the body
of every message it judges. Mailboxes deliver header summaries; this module picks the few
messages that will be judged (new in a tracked thread, not yet judged, not the user's own
Sent copy, not a draft, text not already read) and asks the mailbox for their text in one
call (`Mailbox.with_text`: IMAP one FETCH of BODY.PEEK[]<0.65536> per folder; Gmail one
messages.get format=raw per message).

Nothing is read on an idle pass: with no new messages there is no store query and no mailbox
call, so the idle pass keeps its cost (bench/idle_pass.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from .mailbox import Changes, Mailbox, MessageSummary


def judged_key(msg: MessageSummary) -> str:
    """How the engine remembers a judged message (TrackedId.message_id)."""
    return msg.message_id or f"ref:{msg.ref}"


def _wants_text(msg: MessageSummary) -> bool:
    return not msg.text and not msg.is_draft and not msg.in_sent


def unjudged(messages: Iterable[MessageSummary], known: set[str]) -> list[MessageSummary]:
    """Messages of one tracked thread that the engine will judge and whose text is unread."""
    return [m for m in messages if _wants_text(m) and judged_key(m) not in known]


def fill(
    mailbox: Mailbox,
    messages: Sequence[MessageSummary],
    wanted: Sequence[MessageSummary],
    retry: Callable,
) -> list[MessageSummary]:
    """`messages` with the text of `wanted` (a subset) filled in, order kept."""
    if not wanted:
        return list(messages)
    read = {m.ref: m for m in retry(lambda: mailbox.with_text(list(wanted)))}
    return [read.get(m.ref, m) for m in messages]


def for_changes(store, account_id: int, changes: Changes, mailbox: Mailbox, retry) -> Changes:
    """`changes` with the text of every new message that lands in an active follow-up's
    thread. One indexed store lookup by the changed ids, only when something changed."""
    pending = [m for m in changes.messages if _wants_text(m)]
    if not pending:
        return changes
    wanted: dict[str, MessageSummary] = {}
    with store.session() as s:
        linked = store.active_followups_linked(
            s,
            account_id,
            (i for msg in pending for i in msg.linked_ids),
            (msg.thread_ref for msg in pending),
        )
        for followup in linked:
            known = store.tracked_ids(s, followup.id)
            for msg in pending:
                in_thread = bool(msg.linked_ids & known) or (
                    msg.thread_ref is not None and msg.thread_ref == followup.thread_ref
                )
                if in_thread and judged_key(msg) not in known:
                    wanted[msg.ref] = msg
    if not wanted:
        return changes
    return replace(changes, messages=fill(mailbox, changes.messages, list(wanted.values()), retry))
