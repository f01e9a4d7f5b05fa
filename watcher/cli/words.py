"""What the CLI says about follow-ups and passes, in one vocabulary (issue 19).

- One word for one thing: a follow-up stopped by a reply is `replied` in its state *and* in
  its history (the engine's Event kind stays "stopped": watcher.stats reads it).
- A stage that will never go out (the follow-up ended) is "not sent", never "pending".
- A bump whose hand-over broke off says so, and names the command that settles it.
- `once` that could not check an account says which, why and until when.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from .. import followups as fu_ops
from ..models import AccountStatus, FollowUp, FollowUpState, StageState, User
from ..store import Store

# An Event's detail repeats its kind ("stopped: reply from ..."): (kind, start of the detail,
# how much of it to drop, the word shown), the word being the state the follow-up ended in.
_STOP_WORDS = (
    ("stopped", "stopped: reply from ", "stopped: ", FollowUpState.REPLIED),
    ("stopped", "stopped: ", "stopped: ", FollowUpState.CANCELLED),  # you wrote yourself
    ("failed", "stopped as failed: ", "stopped as failed: ", FollowUpState.FAILED),
)


def event_words(kind: str, detail: str) -> tuple[str, str]:
    """(kind, detail) of a history line, in the words `state` uses."""
    for event_kind, start, drop, word in _STOP_WORDS:
        if kind == event_kind and detail.startswith(start):
            return str(word), detail[len(drop) :]
    return kind, detail


def stage_word(followup: FollowUp, state: str) -> str:
    """A stage's state; "not sent" for one that will never go out (the follow-up ended)."""
    if state == StageState.PENDING and followup.state != FollowUpState.ACTIVE:
        return "not sent"
    return str(state)


def unconfirmed_stage(followup: FollowUp):
    """The latest stage whose hand-over broke off, or None."""
    return next(
        (st for st in reversed(followup.stages) if st.state == StageState.UNCONFIRMED), None
    )


def unconfirmed_hint(followup: FollowUp) -> str | None:
    """What to do about a bump that may or may not have gone out, or None."""
    stage = unconfirmed_stage(followup)
    if stage is None:
        return None
    return (
        f"bump {stage.position} may or may not have gone out (the connection broke while "
        f"sending): python -m watcher followup unconfirmed {followup.id} --went-out "
        "if it arrived, --resend if it did not"
    )


def bump_times(store: Store, s: Session, followup: FollowUp, user: User) -> list[datetime]:
    """When each bump goes out if nobody replies: the first as scheduled, each later one
    counted from the one before (as the engine will), in the user's window, without jitter."""
    times = [followup.due_at]
    for stage in followup.stages[1:]:
        times.append(fu_ops.plan_stage(store, s, followup, stage, times[-1], user).at)
    return times


def unchecked_accounts(store: Store, now: datetime, owner: str, served: set[int]) -> list[str]:
    """Why a pass left accounts out: held by another watcher's lease (one that died keeps it
    until it runs out) or waiting after a fault. One line each, with the account and when."""
    lines = []
    with store.session() as s:
        for account in store.list_accounts(s):
            if account.status == AccountStatus.DISABLED or account.id in served:
                continue
            tz = s.get(User, account.user_id).timezone
            name = f"account {account.id} ({account.email})"
            if account.lease_until and account.lease_until > now and account.lease_owner != owner:
                lines.append(
                    f"{name} is held by watcher {account.lease_owner!r} until "
                    f"{fu_ops.format_local(account.lease_until, tz)}: another watcher is "
                    "checking it, or one stopped without letting go (then it frees itself "
                    "at that time)"
                )
            elif account.next_check_at and account.next_check_at > now:
                why = account.status_reason or "a fault"
                if account.status == AccountStatus.NEEDS_ATTENTION:
                    lines.append(f"{name} needs attention: {why}; fix it, then: account check")
                else:
                    lines.append(
                        f"{name} waits until {fu_ops.format_local(account.next_check_at, tz)} "
                        f"after {why}"
                    )
    return lines
