"""Sending a scheduled draft, exactly once (the bump's pattern, for one ScheduledSend).

At its time, under a lease: wait if the draft was saved again in the last minute (the user
may be typing); read the draft fresh (gone: nothing is sent); "unless they write first": a
recipient's message since the scheduling keeps it as a draft and brings that message back
to the inbox; then the deterministic Message-ID is looked for in Sent (an earlier attempt got
through: record it, never send again), the row moves to SENDING at the point of no return
(before_commit), and the server takes it. After: SENT with the follow-up it asked for, in
one transaction; then the draft is deleted (DONE).

A watcher that dies in SENDING leaves the decision to the next pass: the copy in Sent means
sent; where Sent is authoritative (Gmail) its absence means "send again"; over SMTP nothing
can tell, so it is UNCONFIRMED and never sent a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import followups as fu_ops
from .. import send_caps
from ..errors import (
    ConflictError,
    PermanentError,
    ReplywatchError,
    SendRejected,
    SendUnconfirmed,
    TransientError,
    ValidationError,
)
from ..mailbox import Bump, Mailbox, MessageSummary, ThreadKey
from ..models import Account
from ..schedule import parse_plus_tag
from ..store import later as store_later
from . import message
from .model import (
    CANCELLED,
    DONE,
    FAILED,
    HELD,
    SCHEDULED,
    SENDING,
    SENT,
    UNCONFIRMED,
    ScheduledSend,
)
from .unless_reply import written_since

log = logging.getLogger(__name__)

EDIT_QUIET = timedelta(minutes=1)  # a draft saved more recently may still be being typed


class LeaseLost(ReplywatchError):
    """Another watcher took this scheduled send over: stop before sending anything."""


@dataclass
class Run:
    """What one pass gives the sending step of one account."""

    store: Any
    mailbox: Mailbox
    account: Any  # engine.AccountView
    clock: Callable[[], datetime]
    retry: Callable[[Callable[[], Any]], Any]
    owner: str
    lease: timedelta
    jitter_minutes: int = 0


def serve_for(engine, account, mailbox: Mailbox) -> int:
    """The engine's hook: one call per account per pass, after the bumps."""
    run = Run(
        store=engine.store,
        mailbox=mailbox,
        account=account,
        clock=engine.clock,
        retry=engine._retry,
        owner=engine.owner,
        lease=engine.lease,
        jitter_minutes=engine.config.send_jitter_minutes,
    )
    return serve_due(run)


def serve_due(run: Run) -> int:
    """Act on every due scheduled send of the account, one lease at a time; returns how many."""
    handled: set[int] = set()
    while True:
        row_id = store_later.claim_due(run.store, run.owner, run.clock(), run.lease, run.account.id)
        if row_id is None:
            return len(handled)
        if row_id in handled:  # still due after acting (e.g. over the send cap): next pass
            store_later.release(run.store, row_id, run.owner)
            return len(handled)
        handled.add(row_id)
        try:
            act(run, row_id)
        except LeaseLost as e:
            log.info("scheduled send %s: another watcher took over (%s)", row_id, e)
        finally:
            store_later.release(run.store, row_id, run.owner)


def act(run: Run, row_id: int) -> None:
    with run.store.session() as s:
        row = s.get(ScheduledSend, row_id)
        if row is None or not store_later.holds_lease(row, run.owner, run.clock()):
            return
        state = row.state
    if state == SENDING:
        recover(run, row_id)
    elif state == SCHEDULED:
        send_now(run, row_id)
    discard_draft(run, row_id)


def send_now(run: Run, row_id: int) -> None:
    now = run.clock()
    with run.store.session() as s:
        row = s.get(ScheduledSend, row_id)
        if now - row.draft_seen_at < EDIT_QUIET:
            row.send_at = row.draft_seen_at + EDIT_QUIET
            if not row.waited_for_edit:
                row.waited_for_edit = True
                _event(
                    run,
                    s,
                    row,
                    "later_waiting",
                    "was saved again less than a minute ago "
                    "(you may still be typing): it goes out a minute after your last save",
                )
            return
        ref, tag_address, token_id = row.draft_ref, row.tag_address, row.message_id
        recipients, since, unless = list(row.recipients), row.scheduled_at, row.unless_reply
    raw = run.retry(lambda: run.mailbox.read_draft(ref))
    if raw is None:
        why = (
            "was deleted, sent by you, or saved again without the send-later address before its "
            "time: nothing was sent"
        )
        _end(run, row_id, CANCELLED, why)
        return
    if unless:
        wrote = written_since(run.mailbox, run.retry, recipients, since, run.account.own_addresses)
        if wrote is not None:
            hold(run, row_id, wrote)
            return
    try:
        out, rcpts = message.outgoing(
            raw,
            tag_address=tag_address,
            message_id=token_id,
            now=now,
            keep_bcc=run.account.spec.kind == "gmail",
        )
    except ValidationError as e:
        _end(run, row_id, FAILED, f"was not sent: {e.message}")
        return
    found = run.retry(lambda: run.mailbox.find_sent(token_id))
    if found:  # an earlier attempt got through (e.g. a database restored from a backup)
        record_sent(run, row_id, found, "found already in Sent")
        return
    with run.store.session() as s:  # over today's send cap: it waits for the next pass
        if send_caps.status(s, s.get(Account, run.account.id), now).reached:
            row = s.get(ScheduledSend, row_id)
            row.note = "waiting: today's send cap is reached"
            return
    bump = message_bump(run, token_id, rcpts, out)

    def before_commit() -> None:
        # From here on the message may go out: SENDING, so it is never sent twice.
        with run.store.session() as s:
            row = s.get(ScheduledSend, row_id)
            if row.state != SCHEDULED or not store_later.holds_lease(row, run.owner, run.clock()):
                raise LeaseLost(f"lease on scheduled send {row_id} lost before sending")
            send_caps.claim(s, run.account.id, token_id, "later", run.clock())
            row.state = SENDING
            row.updated_at = run.clock()

    try:
        sent_ref = run.retry(lambda: run.mailbox.send(bump, before_commit))
    except send_caps.CapReached:
        return
    except SendUnconfirmed as e:
        settle_unconfirmed(run, row_id, f"the connection broke while sending ({e.message})")
        return
    except SendRejected as e:
        with run.store.session() as s:
            send_caps.forget(s, run.account.id, token_id)
        _end(run, row_id, FAILED, f"was refused by the mail server: {e.message}")
        return
    except (TransientError, PermanentError):
        # Our mailboxes raise these only when the server surely did not take the message.
        with run.store.session() as s:
            row = s.get(ScheduledSend, row_id)
            if row.state == SENDING:
                row.state = SCHEDULED
                send_caps.forget(s, run.account.id, token_id)
        raise
    record_sent(run, row_id, sent_ref, "sent")


def message_bump(run: Run, message_id: str, recipients, raw: bytes):
    return Bump(
        message_id=message_id, sender=run.account.email, recipients=tuple(recipients), raw=raw
    )


def hold(run: Run, row_id: int, wrote: MessageSummary) -> None:
    """A recipient wrote first: not sent, the draft stays, their message back in the inbox."""
    key = ThreadKey(frozenset({wrote.message_id} - {""}), wrote.thread_ref)
    try:
        run.retry(lambda: run.mailbox.remind(key))
        back = "; their message is back in your inbox"
    except ReplywatchError as e:
        back = f" (their message could not be brought back to your inbox: {e.message})"
    who = wrote.from_name or wrote.from_addr
    _end(
        run,
        row_id,
        HELD,
        f"was not sent: {who} wrote to you first ({wrote.subject!r}); it stays in your "
        f"drafts{back}",
    )


def record_sent(run: Run, row_id: int, sent_ref: str, how: str) -> None:
    """SENT, with the follow-up it asked for, in one transaction."""
    with run.store.session() as s:
        row = s.get(ScheduledSend, row_id)
        token_id, then_tag = row.message_id, row.then_tag
    anchor = None
    if then_tag:
        anchor = run.retry(lambda: run.mailbox.find_message(token_id))
    with run.store.session() as s:
        row = s.get(ScheduledSend, row_id)
        if row.state not in (SCHEDULED, SENDING):
            return
        row.state, row.sent_ref, row.updated_at = SENT, sent_ref, run.clock()
        detail = f"was sent to {', '.join(row.recipients)} ({how})"
        row.note = detail
        _event(run, s, row, "later_sent", detail)
        if then_tag:
            start_followup(run, s, row, anchor)


def start_followup(run: Run, s, row: ScheduledSend, anchor: MessageSummary | None) -> None:
    if anchor is None or not anchor.sent_by_user(run.account.own_addresses):
        anchor = MessageSummary(
            ref=row.sent_ref or "",
            message_id=row.message_id,
            subject=row.subject,
            from_addr=run.account.email.lower(),
            to=tuple(row.recipients),
            date=run.clock(),
            in_sent=True,
        )
    tag = parse_plus_tag(row.then_tag)
    user = s.get(Account, run.account.id).user
    at = tag.first_at(run.clock(), fu_ops.user_window(user))
    stages = [
        fu_ops.StageSpec(at=at) if i == 0 and at is not None else fu_ops.StageSpec(delay=step)
        for i, step in enumerate(tag.steps)
    ]
    try:
        with s.begin_nested():
            followup = fu_ops.create_followup(
                run.store,
                s,
                account=s.get(Account, run.account.id),
                anchor=anchor,
                stages=stages,
                mode="remind" if tag.mode == "remind" else "send",
                now=run.clock(),
                jitter_minutes=run.jitter_minutes,
                origin=f"send later {row.tag_address}",
            )
    except (ValidationError, ConflictError) as e:
        _event(run, s, row, "later_followup", f"was sent, but no follow-up was set: {e.message}")
        return
    row.followup_id = followup.id
    _event(run, s, row, "later_followup", f"was sent; follow-up {followup.id} ({tag}) is set")


def recover(run: Run, row_id: int) -> None:
    """A watcher died while handing it over: Sent decides; never a second copy where Sent
    cannot prove the first did not go out."""
    settle_unconfirmed(run, row_id, "the watcher stopped while handing it to the mail server")


def settle_unconfirmed(run: Run, row_id: int, why: str) -> None:
    with run.store.session() as s:
        token_id = s.get(ScheduledSend, row_id).message_id
    found = run.retry(lambda: run.mailbox.find_sent(token_id))
    if found:
        record_sent(run, row_id, found, f"found in Sent after {why}")
        return
    if getattr(run.mailbox, "sent_copy_is_authoritative", False):
        with run.store.session() as s:  # not in Sent, where this server files all it sends
            row = s.get(ScheduledSend, row_id)
            if row.state == SENDING:
                row.state, row.send_at = SCHEDULED, run.clock()
                send_caps.forget(s, run.account.id, token_id)
                _event(run, s, row, "later_retry", f"did not go out ({why}): it is sent again")
        send_now(run, row_id)
        return
    _end(
        run,
        row_id,
        UNCONFIRMED,
        f"may or may not have gone out ({why}); it is not sent again, so check your Sent "
        "folder and the draft",
        from_states=(SENDING,),
    )


def discard_draft(run: Run, row_id: int) -> None:
    """Sent: the draft's text went out, so the draft goes (a failure is an Event)."""
    with run.store.session() as s:
        row = s.get(ScheduledSend, row_id)
        if row.state != SENT:
            return
        ref = row.draft_ref
    try:
        run.retry(lambda: run.mailbox.discard_draft(ref))
        detail = None
    except ReplywatchError as e:
        detail = f"was sent, but the draft could not be deleted ({e.message}): delete it yourself"
    with run.store.session() as s:
        row = s.get(ScheduledSend, row_id)
        row.state, row.updated_at = DONE, run.clock()
        if detail:
            _event(run, s, row, "later_draft_kept", detail)


def _end(run: Run, row_id: int, state: str, detail: str, from_states=(SCHEDULED,)) -> None:
    with run.store.session() as s:
        row = s.get(ScheduledSend, row_id)
        if row is None or row.state not in from_states:
            return
        row.state, row.note, row.updated_at = state, detail, run.clock()
        _event(run, s, row, f"later_{state}", detail)


def _event(run: Run, s, row: ScheduledSend, kind: str, detail: str) -> None:
    run.store.add_event(
        s,
        user_id=row.user_id,
        account_id=row.account_id,
        kind=kind,
        detail=f"your scheduled message {row.subject!r} {detail}",
        message_id=row.message_id,
        at=run.clock(),
    )
